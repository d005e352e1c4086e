/**
 * Worker thread of the ONNX Runtime sampler (samplers.ts): owns one ONNX Runtime session and runs the sampling loop
 * with the native counter-based noise, so the main thread's event loop stays free while ONNX Runtime computes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { argmax } from '../engine/classifier.js';
import { cpuInfo, noise } from '../native.js';
import { OrtModel } from '../ort/session.js';

export interface OrtWorkerSetup {
  model: Uint8Array;
  inputShape: number[];
  rank: 2 | 4;
  classes: number;
  threads: number;
  sigma: number;
  batch: number;
  seedHi: number;
  seedLo: number;
}

export type OrtWorkerRequest =
  | { id: number; kind: 'ready' }
  | { id: number; kind: 'sample'; image: Float32Array; imageIndex: number; first: number; count: number; record: boolean };

export interface OrtWorkerReply {
  id: number;
  error?: string;
  counts?: Uint32Array;
  predictions?: Uint8Array;
}

function main(): void {
  const setup = workerData as OrtWorkerSetup;
  const session = OrtModel.load(setup.model, setup.inputShape, setup.rank, { threads: setup.threads });
  const isa = cpuInfo().active;
  // Every failure is caught and posted back, so the handler's promise never rejects.
  const answer = async (request: OrtWorkerRequest): Promise<void> => {
    try {
      const model = await session;
      if (request.kind === 'ready') {
        parentPort!.postMessage({ id: request.id } satisfies OrtWorkerReply);
        return;
      }
      const counts = new Uint32Array(setup.classes);
      const predictions = request.record ? new Uint8Array(request.count) : undefined;
      for (let done = 0; done < request.count; done += setup.batch) {
        const rows = Math.min(setup.batch, request.count - done);
        const noisy = noise().addGaussian(isa, setup.seedHi, setup.seedLo, request.imageIndex, request.first + done, rows, request.image, setup.sigma);
        const classes = argmax(await model.run(noisy, rows), setup.classes);
        for (let r = 0; r < rows; r++) {
          counts[classes[r]]++;
          if (predictions) predictions[done + r] = classes[r];
        }
      }
      parentPort!.postMessage({ id: request.id, counts, predictions } satisfies OrtWorkerReply);
    } catch (error) {
      parentPort!.postMessage({ id: request.id, error: (error as Error).message } satisfies OrtWorkerReply);
    }
  };
  parentPort!.on('message', (request: OrtWorkerRequest) => void answer(request));
}

if (parentPort) main();
