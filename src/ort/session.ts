/**
 * The float reference: an ONNX Runtime session (onnxruntime-node, CPU) over the original ONNX file. Note that
 * onnxruntime-node's run() computes on the JavaScript thread; long ONNX Runtime jobs belong in a worker thread.
 */
import { createRequire } from 'node:module';
import type * as OrtTypes from 'onnxruntime-node';
import { ArqError } from '../util/errors.js';

const ort = createRequire(import.meta.url)('onnxruntime-node') as typeof OrtTypes;

export interface OrtOptions {
  /** Intra-op threads; defaults to ONNX Runtime's choice (all cores). */
  readonly threads?: number;
}

export class OrtModel {
  private constructor(
    private readonly session: OrtTypes.InferenceSession,
    readonly inputShape: readonly number[],
    private readonly inputName: string,
    private readonly outputName: string,
  ) {}

  /** Loads `model` (ONNX bytes); `inputShape` is the per-image [C, H, W] (or [F, 1, 1]) shape from import. */
  static async load(model: Uint8Array, inputShape: readonly number[], rank: 2 | 4, options: OrtOptions = {}): Promise<OrtModel> {
    // Severity 3 (errors only): ONNX Runtime's own warnings (an unused initializer, say) are coloured log lines on
    // stderr that would break the CLI's one-line messages; errors still reach the caller as exceptions.
    const sessionOptions: OrtTypes.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', executionProviders: ['cpu'], logSeverityLevel: 3 };
    if (options.threads !== undefined) {
      sessionOptions.intraOpNumThreads = options.threads;
      sessionOptions.interOpNumThreads = 1;
    }
    let session: OrtTypes.InferenceSession;
    try {
      session = await ort.InferenceSession.create(model, sessionOptions);
    } catch (error) {
      throw new ArqError(`ONNX Runtime could not load the model: ${(error as Error).message}`);
    }
    const shape = rank === 4 ? [...inputShape] : [inputShape[0]];
    return new OrtModel(session, shape, session.inputNames[0], session.outputNames[0]);
  }

  /** Logits [batch x classes] of `batch` images laid out as the model's input expects. */
  async run(images: Float32Array, batch: number): Promise<Float32Array> {
    const tensor = new ort.Tensor('float32', images, [batch, ...this.inputShape]);
    const result = await this.session.run({ [this.inputName]: tensor });
    return result[this.outputName].data as Float32Array;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
