/** What the fp32 and integer plan wrappers share: batch inference and the sampling loop, each off the JS thread. */
import { defaultMaxMemory, withStack, type SampleRequest, type SampleResult, type StreamCounts, type StreamsRequest } from '../native.js';
import { integerInRange } from '../util/check.js';

/** Options of a native plan's build. */
export interface PlanOptions {
  /**
   * Bytes one call of the plan (a batch run, a calibration pass) may allocate, default defaultMaxMemory() (2 GiB
   * unless setMaxMemory or the CLI's --max-memory raised it). Each call checks its estimate (activations of every
   * thread's images, im2col and padding buffers, histograms) before allocating and throws a RangeError naming the
   * largest item; the build throws when even one image would not fit.
   */
  readonly maxMemory?: number;
}

/** The maxMemory a plan spec carries: the option, checked, or the process default. */
export function planMaxMemory(options: PlanOptions): number {
  return options.maxMemory === undefined ? defaultMaxMemory() : integerInRange('maxMemory', options.maxMemory, 2 ** 20, Number.MAX_SAFE_INTEGER);
}

interface NativePlanSurface {
  readonly classes: number;
  readonly kernels: string;
  run(input: Float32Array, batch: number, threads: number): Promise<Float32Array>;
  sample(request: SampleRequest): Promise<SampleResult>;
  sampleStreams(request: StreamsRequest): Promise<StreamCounts[]>;
}

export abstract class NativePlan<Native extends NativePlanSurface> {
  protected constructor(protected readonly native: Native) {}

  get classes(): number {
    return this.native.classes;
  }

  /** Names of the kernels chosen for this machine. */
  get kernels(): string {
    return this.native.kernels;
  }

  /** Logits [batch x classes] for `batch` NCHW images, on `threads` threads of arq's pool. */
  run(images: Float32Array, batch: number, threads: number): Promise<Float32Array> {
    return withStack(() => this.native.run(images, batch, threads));
  }

  /** The certification sampling loop on this plan (native/certify): counts, and predictions when recorded. */
  sample(request: SampleRequest): Promise<SampleResult> {
    return withStack(() => this.native.sample(request));
  }

  /** Several noise streams through this plan, sharing its batches (native/certify sample_streams). */
  sampleStreams(request: StreamsRequest): Promise<StreamCounts[]> {
    return withStack(() => this.native.sampleStreams(request));
  }
}
