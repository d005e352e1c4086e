/**
 * Worker thread of the ONNX Runtime sampler (sampler.ts): owns one ONNX Runtime session and runs the sampling loop
 * with the native counter-based noise, so the main thread's event loop stays free while ONNX Runtime computes.
 *
 * It is never terminated from outside: onnxruntime-node's run() computes synchronously on this thread, and a
 * Worker.terminate() that lands during it makes the binding throw a C++ exception it cannot hand to JavaScript, which
 * aborts the whole process. A 'close' request instead stops every sampling loop before its next batch, releases the
 * session and closes the port, so the thread ends on its own between native calls.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { argmax } from '../engine/classifier.js';
import { noisyCopies } from '../engine/noise.js';
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
  | { id: number; kind: 'sample'; image: Float32Array; imageIndex: number; first: number; count: number; record: boolean }
  | { id: number; kind: 'close' };

export interface OrtWorkerReply {
  id: number;
  error?: string;
  counts?: Uint32Array;
  predictions?: Uint8Array;
}

function main(): void {
  const setup = workerData as OrtWorkerSetup;
  const session = OrtModel.load(setup.model, setup.inputShape, setup.rank, { threads: setup.threads });
  let closing = false;
  const answering = new Set<Promise<void>>();
  // Every failure is caught and posted back, so the handler's promise never rejects.
  const answer = async (request: Exclude<OrtWorkerRequest, { kind: 'close' }>): Promise<void> => {
    try {
      const model = await session;
      if (request.kind === 'ready') {
        parentPort!.postMessage({ id: request.id } satisfies OrtWorkerReply);
        return;
      }
      const counts = new Uint32Array(setup.classes);
      const predictions = request.record ? new Uint8Array(request.count) : undefined;
      for (let done = 0; done < request.count; done += setup.batch) {
        if (closing) throw new Error('the ort sampler is closed');
        const rows = Math.min(setup.batch, request.count - done);
        const noisy = noisyCopies(request.image, setup.sigma, setup, request.imageIndex, request.first + done, rows);
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
  // Waits for the batch ONNX Runtime may be computing, then lets the thread end: nothing is left on its event loop
  // once the port is closed.
  const close = async (): Promise<void> => {
    closing = true;
    await Promise.all(answering);
    // A session that never loaded has nothing to release; a failed release changes nothing, the thread ends anyway.
    await session.then((model) => model.release()).catch(() => undefined);
    parentPort!.close();
  };
  parentPort!.on('message', (request: OrtWorkerRequest) => {
    if (request.kind === 'close') {
      void close();
      return;
    }
    if (closing) return;
    const answered = answer(request);
    answering.add(answered);
    void answered.then(() => answering.delete(answered));
  });
}

if (parentPort) main();
