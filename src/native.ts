/**
 * The only module that loads the native addon. It declares the addon's surface as TypeScript interfaces so no
 * untyped native value leaks out, and wraps async calls so a rejection carries the caller's JavaScript stack.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { ArqError } from './util/errors.js';
import { integerInRange } from './util/check.js';

export type IsaName = 'scalar' | 'avx2' | 'avx512vnni';
export const ISA_LEVELS: readonly IsaName[] = ['scalar', 'avx2', 'avx512vnni'];

/** One operator of a native fp32 plan (see native/engine/float_plan.h). Value 0 is the network input. */
/** `name` is the IR node's (for diagnostics and policies; the addon ignores it). */
export type FloatPlanOp = { inputs: number[]; output: number; clamp?: [number, number]; name?: string } & (
  | { op: 'conv'; weight: Float32Array; bias: Float32Array | null; outChannels: number; kernel: [number, number]; strides: [number, number]; pads: [number, number, number, number]; group: number }
  | { op: 'gemm'; weight: Float32Array; bias: Float32Array | null; outFeatures: number }
  | { op: 'add' | 'clamp' | 'globalavgpool' | 'flatten' }
  | { op: 'maxpool'; kernel: [number, number]; strides: [number, number]; pads: [number, number, number, number] }
  | { op: 'avgpool'; kernel: [number, number]; strides: [number, number]; pads: [number, number, number, number]; countIncludePad: boolean }
  | { op: 'pad'; pads: [number, number, number, number]; value: number }
  | { op: 'elementwise'; operation: 'add' | 'sub' | 'mul' | 'div'; constant: Float32Array; constantFirst: boolean }
  | { op: 'repeat'; factor: number }
);

export interface FloatPlanSpec {
  input: [number, number, number];
  values: number;
  output: number;
  ops: FloatPlanOp[];
  /** Bytes one call of the plan may allocate (its memory estimate is checked first); default defaultMaxMemory(). */
  maxMemory?: number;
}

/** A carrier grid (8-bit) or a layer input grid (`bits` = the layer's abits): real = scale * (q - zero). */
export interface NativeGrid {
  scale: number;
  zero: number;
}

/** The fp32 op structure with per-layer fields `Layer` on Conv and Gemm (their keys `Replaced` dropped first). */
export type QuantizedOp<Layer, Replaced extends string = never> =
  | Exclude<FloatPlanOp, { op: 'conv' | 'gemm' }>
  | (Omit<Extract<FloatPlanOp, { op: 'conv' }>, Replaced> & Layer)
  | (Omit<Extract<FloatPlanOp, { op: 'gemm' }>, Replaced> & Layer);

/** A quantized network's description: the integer plan's, or QAT's. */
export interface QuantizedSpec<Op> {
  input: [number, number, number];
  values: number;
  output: number;
  /** Per value: its 8-bit carrier grid, or null for float values (the input, its float prefix, the logits). */
  grids: (NativeGrid | null)[];
  ops: Op[];
  /** Bytes one call of the plan may allocate (see FloatPlanSpec). */
  maxMemory?: number;
}

/** One operator of a native integer plan: the fp32 op's structure, with codes instead of float weights. */
export type IntPlanOp = QuantizedOp<IntLayerFields, 'weight'>;

export interface IntLayerFields {
  weight: Int8Array;
  wbits: number;
  weightScales: Float32Array;
  inputGrid: NativeGrid & { bits: number };
}

export type IntPlanSpec = QuantizedSpec<IntPlanOp>;

/** One call of the certification sampling loop (native/certify): samples firstSample .. firstSample+count-1. */
export interface SampleRequest {
  image: Float32Array;
  sigma: number;
  seedHi: number;
  seedLo: number;
  imageIndex: number;
  firstSample: number;
  count: number;
  batch: number;
  threads: number;
  /** Return each sample's predicted class (the IRS cache). */
  record: boolean;
}

export interface SampleResult {
  counts: Uint32Array;
  predictions: Uint8Array | null;
}

/** A cancellation flag that native sampling loops poll between batches (native/certify/bind.h). */
export interface NativeCancelFlag {
  cancel(): void;
  readonly cancelled: boolean;
}

/** One noise stream's share of a sampleStreams call: samples firstSample .. firstSample+count-1 of stream imageIndex. */
export interface StreamSlice {
  image: Float32Array;
  imageIndex: number;
  firstSample: number;
  count: number;
  /** Once cancelled, the stream draws no further batches. */
  cancel?: NativeCancelFlag;
}

/** Several noise streams sharing the classifier's batches (native/certify sample_streams). */
export interface StreamsRequest {
  streams: StreamSlice[];
  sigma: number;
  seedHi: number;
  seedLo: number;
  batch: number;
  threads: number;
}

/** Per stream: class counts over the samples drawn (`drawn` < count only when cancelled). */
export interface StreamCounts {
  counts: Uint32Array;
  drawn: number;
}

/**
 * Interval bounds of one box per image (native/verify/bounds.h): every value of the plan bounded over every input
 * in the box, by the engine's own integer semantics. Code values hold codes, float values (the float prefix and
 * the logits) floats; every array is batch x (the value's C*H*W), NCHW per image.
 */
export interface IntervalBounds {
  /** Per plan value (index = value index; value 0 is the input box itself). */
  values: { lo: Float32Array; hi: Float32Array; codes: boolean }[];
  /**
   * Lower bounds of logit_label - logit_j over the box (batch x classes, +Infinity at j = label), sound for the
   * float32 logits the engine computes; all NaN when no labels were given.
   */
  marginLower: Float64Array;
  /**
   * Per image, with labels: 1 when the bounds prove the engine's argmax (lowest index wins ties) is the label for
   * every input in the box (j < label needs margin > 0, j > label needs margin >= 0), else 0.
   */
  verified: Uint8Array;
  /** True when the paired plan computed the bounds (options.values false, on a plan that has one). */
  paired: boolean;
}

/** What intervalBounds computes (see NativeIntPlan.intervalBounds). */
export interface IntervalOptions {
  values?: boolean;
  linear?: boolean;
  /** With linear: rounds of optimised relaxation slopes, 0 to 16 (default 0; VerifyRequest.slopeSteps). */
  slopeSteps?: number;
}

/** Per-box outcomes of verifyBoxes. */
export const VERIFY_OUTCOME = { timeout: 0, verified: 1, falsified: 2, splitLimit: 3, cancelled: 4 } as const;
/** Which step decided a box: none (undecided), the concrete points, interval bounds of the whole box, or the branch and bound. */
export const VERIFY_STAGE = { none: 0, points: 1, bounds: 2, branchAndBound: 3 } as const;

/** One verifyBoxes call: boxes of the plan's input size, lo <= hi within [0, 1], one label per box. */
export interface VerifyRequest {
  lo: Float32Array;
  hi: Float32Array;
  labels: Int32Array;
  /** Per box wall-clock limit in milliseconds (> 0). */
  timeoutMs: number;
  /** Per box cap on splits, of input pixels and hidden neurons together (default unlimited). */
  maxSplits?: number;
  threads: number;
  /** Once cancelled, undecided boxes end with outcome cancelled. */
  cancel?: NativeCancelFlag;
  /** Called on the main thread with the number of boxes finished so far. */
  onProgress?: (done: number) => void;
  /**
   * Run the box's centre and corners, and each split part's centre, through the engine to falsify early (default
   * true); without them every falsification comes from a fully split part (for measuring what each stage decides).
   */
  concretePoints?: boolean;
  /**
   * Where the network is a chain of layers (native/verify/linear_bounds.h), try a part the interval bounds leave open
   * with the back-substituted margin bounds, and split on the input code that costs them the most (default true).
   */
  linearBounds?: boolean;
  /**
   * With linearBounds: split a hidden neuron's code range (at its clamp's kink) where its relaxation costs the worst
   * margin the most, before splitting input pixels, up to this many neuron splits on one path (0 to 4096; default 0,
   * off; docs/verify.md).
   */
  neuronSplitDepth?: number;
  /**
   * With linearBounds: rounds of optimising each margin's relaxation slopes (each hidden neuron's line replaced by the
   * best one where the bound is attained, then the margin bounded again), 0 to 16 (default 2; docs/verify.md).
   */
  slopeSteps?: number;
  /**
   * With linearBounds: a pixel split examines first the half holding the corner of the part where its worst margin's
   * linear bound is attained, else the lower half (default true); a proof makes the same splits in either order.
   */
  cornerFirst?: boolean;
}

export interface VerifyResult {
  /** Per box: a VERIFY_OUTCOME value. */
  outcome: Int8Array;
  /** Per box: a VERIFY_STAGE value (what decided it). */
  stage: Int8Array;
  /** Per box: splits made (input pixels and hidden neurons). */
  splits: Float64Array;
  /** Per box: of those, splits of a hidden neuron's code range (neuronSplitDepth). */
  neuronSplits: Float64Array;
  /** Per box: seconds spent. */
  seconds: Float64Array;
  /**
   * Boxes x input size: for a falsified box, an input inside the box that the engine (IntPlan.run) misclassifies,
   * re-run before it is reported; NaN elsewhere.
   */
  counterexample: Float32Array;
}

export interface NativeIntPlan {
  readonly classes: number;
  readonly kernels: string;
  run(input: Float32Array, batch: number, threads: number): Promise<Float32Array>;
  /**
   * The same run, timed: thread-seconds per step, ops.length + 2 entries (the input's layout change, each op of the
   * spec in order, the logits' conversion); a residual add fused into its conv reads 0 and counts in the conv.
   */
  profile(input: Float32Array, batch: number, threads: number): Promise<Float64Array>;
  sample(request: SampleRequest): Promise<SampleResult>;
  sampleStreams(request: StreamsRequest): Promise<StreamCounts[]>;
  /** The plain reference executor of the same semantics (slow; tests). */
  _runReference(input: Float32Array, batch: number): Promise<Float32Array>;
  /** Estimated bytes of a run; throws a RangeError naming the largest item when over the plan's maxMemory. */
  checkMemory(batch: number, threads: number): number;
  /**
   * Interval bounds of `batch` boxes [lo, hi] (NCHW, within [0, 1]); labels (one per box) add the margin bounds.
   * options.values false: only the output value's bounds are returned (every other entry of values is empty), and
   * where the plan has a paired plan (native/verify/paired_plan.h) the engine computes them for every box at once:
   * the same bounds and margins, faster (what the verifier's bounds stage uses). options.linear (default false): a
   * box its interval bounds leave open gets the back-substituted margin bounds too (native/verify/linear_bounds.h),
   * each margin the larger of the two, where the network is a chain of layers.
   */
  intervalBounds(lo: Float32Array, hi: Float32Array, batch: number, threads: number, labels?: Int32Array, options?: IntervalOptions): Promise<IntervalBounds>;
  /**
   * The complete verifier (native/verify/branch_bound.h): per box, is every input in [lo, hi] classified as its
   * label by the engine? Threads over boxes, off the event loop.
   */
  verifyBoxes(request: VerifyRequest): Promise<VerifyResult>;
}

export interface NativeFloatPlan {
  readonly classes: number;
  readonly inputShape: [number, number, number];
  readonly kernels: string;
  /** Number of plan values (value 0 is the input). */
  readonly values: number;
  /** Logits [batch x classes] of `batch` NCHW images. */
  run(input: Float32Array, batch: number, threads: number): Promise<Float32Array>;
  sample(request: SampleRequest): Promise<SampleResult>;
  sampleStreams(request: StreamsRequest): Promise<StreamCounts[]>;
  /** [min, max] of every plan value over the batch; rejects naming the first value holding a NaN or an infinity. */
  observeRanges(input: Float32Array, batch: number, threads: number): Promise<Float32Array>;
  /** Histograms of `bins` equal bins over the given (finite) ranges, values x bins counts; rejects as observeRanges. */
  observeHistograms(input: Float32Array, batch: number, threads: number, ranges: Float32Array, bins: number): Promise<Float64Array>;
  /** Estimated bytes of a run (bins 0) or a histogram pass; throws a RangeError when over the plan's maxMemory. */
  checkMemory(batch: number, threads: number, bins: number): number;
}

export interface DwconvShape {
  channels: number; inH: number; inW: number; outH: number; outW: number;
  kernelH: number; kernelW: number; strideH: number; strideW: number; padTop: number; padLeft: number;
}

/** Internal entry points of the float kernel families (native/kernels/f32_bind.cc) for tests. */
export interface NativeF32Kernels {
  f32Gemm(isa: IsaName, m: number, n: number, k: number, a: Float32Array, w: Float32Array, bias: Float32Array | null, min: number, max: number): Float32Array;
  /** f32Gemm with A[i][p] = a[i*lda + floor(p / kseg)*segStride + p % kseg] (a holds exactly the elements up to the last one read). */
  f32GemmSegmented(isa: IsaName, m: number, n: number, k: number, kseg: number, lda: number, segStride: number, a: Float32Array, w: Float32Array, bias: Float32Array | null, min: number, max: number): Float32Array;
  f32Dwconv(isa: IsaName, shape: DwconvShape, input: Float32Array, weights: Float32Array, bias: Float32Array | null, min: number, max: number): Float32Array;
  names(isa: IsaName): { gemm: string; gemmNarrow: string; dwconv: string };
}

/**
 * Internal entry points of the Gaussian noise generator (native/noise/bind.cc) for tests and benchmarks. The seed
 * is two uint32 halves, seed = seedHi * 2^32 + seedLo; values are sample-major [samples x elements].
 */
export interface NativeNoise {
  gaussian(isa: IsaName, seedHi: number, seedLo: number, image: number, firstSample: number, samples: number, elements: number, sigma: number, threads?: number): Float32Array;
  addGaussian(isa: IsaName, seedHi: number, seedLo: number, image: number, firstSample: number, samples: number, imageData: Float32Array, sigma: number, threads?: number): Float32Array;
  name(isa: IsaName): string;
  /** Seconds taken by `iterations` one-sample fills of `elements` values. */
  fillTime(isa: IsaName, elements: number, iterations: number): number;
  /** One Philox4x32-10 block: counter [4] and key [2] as uint32 words. */
  philox(counter: readonly number[], key: readonly number[]): Uint32Array;
}

export interface QDwconvShape extends DwconvShape {}

/** Internal entry points of the integer kernel families (native/kernels/qu8_bind.cc) for tests. */
export interface NativeQu8Kernels {
  qgemm(isa: IsaName, m: number, n: number, k: number, wbits: number, a: Uint8Array, w: Int8Array,
    multiplier: Float32Array, bias: Float32Array, correction: Int32Array | null, min: number, max: number,
    floatOut: boolean, path?: 'auto' | 'unpack' | 'indirect' | 'strided', tap?: number, rowStride?: number,
    tapStride?: number): Uint8Array | Float32Array;
  qdwconv(isa: IsaName, shape: QDwconvShape, input: Uint8Array, inputZero: number, weights: Int8Array,
    multiplier: Float32Array, bias: Float32Array, min: number, max: number): Uint8Array;
  /** indirect: whether the level's widest qgemm config has an indirect microkernel. */
  names(isa: IsaName): { gemm: string; dwconv: string; gemmTile: [number, number, number]; indirect: boolean; strided: boolean; lutgemm: string };
  /** qu8-elementwise: residual add of two code arrays into a third grid (vbmi: the VBMI or the plain AVX-512 kernel). */
  vadd(isa: IsaName, a: Uint8Array, b: Uint8Array, p: { aScale: number; aZero: number; bScale: number; bZero: number; invScale: number; zero: number; min: number; max: number }, vbmi?: boolean): Uint8Array;
  /** qu8-elementwise: float values onto a grid (t = x / scale clamped to [lo, hi], rounded half to even, + zero). */
  quantize(isa: IsaName, x: Float32Array, p: { scale: number; lo: number; hi: number; zero: number }): Uint8Array;
  /** qu8-elementwise: codes of one grid onto another. */
  convert(isa: IsaName, x: Uint8Array, p: { fromScale: number; fromZero: number; scale: number; lo: number; hi: number; zero: number }): Uint8Array;
  /** qu8-elementwise: table[x[i]]; throws a RangeError where the level has no lookup kernel. */
  lookup(isa: IsaName, x: Uint8Array, table: Uint8Array): Uint8Array;
  /**
   * qu8-interval: the two-end epilogue of a conv bounded by centre and radius (native/kernels/qu8-interval/interval.h):
   * per pixel [lo n | hi n] codes from the raw centre and radius sums (integers below 2^24, radius >= 0,
   * centre - correction + radius even; RangeError otherwise).
   */
  intervalEpilogue(isa: IsaName, pixels: number, n: number, centre: Float32Array, radius: Float32Array, multiplier: Float32Array, bias: Float32Array, correction: Int32Array, min: number, max: number): Uint8Array;
  /**
   * qu8-qs8-lutgemm: qgemm's codes (no float output) by table lookup, for activation codes below 2^abits (abits 1..4)
   * and weights of 2..4 bits (kernels/qu8-qs8-lutgemm/lutgemm.h).
   */
  lutgemm(
    isa: IsaName, m: number, n: number, k: number, wbits: number, abits: number, a: Uint8Array, w: Int8Array,
    multiplier: Float32Array, bias: Float32Array, correction: Int32Array | null, min: number, max: number,
  ): Uint8Array;
}

/** Internal kernel timing loops (native/kernels/timing_bind.cc) for benchmarks. */
export interface NativeKernelTiming {
  /** Seconds for `iterations` GEMMs of the shape on internal data (copies: distinct weight sets cycled). */
  qgemmTime(isa: IsaName, m: number, n: number, k: number, wbits: number, iterations: number, copies?: number, repeats?: number): number;
  /** Seconds for `iterations` lutgemm calls on internal codes packed beforehand, or in every call with `pack` (kernels/qu8-qs8-lutgemm). */
  lutgemmTime(isa: IsaName, m: number, n: number, k: number, wbits: number, abits: number, iterations: number, repeats?: number, pack?: boolean): number;
  /** Measured int8 multiply-add throughput of one thread (ops/s, a multiply-add counted as 2). */
  dotPeak(isa: IsaName, seconds: number): number;
  /** The sub-byte kernel families whose inner step this CPU runs (kernels/qu8-qs8-gemm/peak.h). */
  lowbitFamilies(): LowbitFamily[];
  /**
   * Bit-plane products per second of a sub-byte family's register-resident inner step on one thread: bit-serial
   * (vpandq + vpopcntq + vpaddq; a W_w A_a multiply-add is w * a products) or table lookup (vpermb + vpaddb; a
   * multiply-add is `a` products). Throws a RangeError for a family the CPU lacks.
   */
  lowbitPeak(family: LowbitFamily, seconds: number): number;
}

/** Sub-byte GEMM families measured by `bench kernels` against the int8 dot product. */
export type LowbitFamily = 'bitserial' | 'lut';

/** A training network (native/train): plan ops without fused clamps, plus batch norm. `momenta` resumes SGD. */
export type TrainNetOp =
  | FloatPlanOp
  | { op: 'batchnorm'; inputs: number[]; output: number; name?: string; scale: Float32Array; bias: Float32Array; mean: Float32Array; var: Float32Array; epsilon: number; momentum: number };

export interface TrainNetSpec {
  input: [number, number, number];
  values: number;
  output: number;
  ops: TrainNetOp[];
  momenta?: Float32Array[];
}

export interface TrainBatch {
  /** NCHW images [batch, C, H, W] and labels [batch]. */
  input: Float32Array;
  labels: Int32Array;
  batch: number;
  threads: number;
}

/** A batch with, per image, the class whose margin over the label is differentiated (never the label itself). */
export interface MarginRequest extends TrainBatch {
  targets: Int32Array;
}

/** What the trainer's nets share (native/train/net_bind.h): SGD steps, gradients, inference and their tensors. */
export interface NativeBatchNet {
  readonly classes: number;
  /** Forward, backward and one SGD step. */
  step(request: TrainBatch & { lr: number; momentum: number; weightDecay: number }): Promise<{ loss: number; correct: number }>;
  /** Forward and backward only; read the gradients with grads(). */
  gradients(request: TrainBatch): Promise<{ loss: number; correct: number }>;
  predict(input: Float32Array, batch: number, threads: number): Promise<Float32Array>;
  /** predict's logits and, per image, the gradient of logit[target] - logit[label] with respect to its pixels (NCHW). */
  inputGradients(request: MarginRequest): Promise<{ logits: Float32Array; gradient: Float32Array }>;
  tensors(): Float32Array[];
  /** Gradients of the trainable tensors, in order. */
  grads(): Float32Array[];
}

/**
 * The float trainer: batch norm on batch statistics in step/gradients (running statistics updated), on running
 * statistics in predict; tensors() are conv/gemm weight[, bias] and bn scale, bias, mean, var in op order (all but bn
 * mean and var trainable).
 */
export interface NativeTrainNet extends NativeBatchNet {
  /** Momentum buffers of the trainable tensors. */
  momenta(): Float32Array[];
}

/**
 * Quantization-aware training (native/train/qat_net.h): one operator is the fp32 op (float weights, trained) with the
 * layer's bit widths and input grid; codes and scales are re-derived from the weights before every forward pass.
 */
export type QatNetOp = QuantizedOp<QatLayerFields>;

export interface QatLayerFields {
  wbits: number;
  inputGrid: NativeGrid & { bits: number };
}

export type QatNetSpec = QuantizedSpec<QatNetOp>;

/**
 * The QAT net: a fake-quantized forward (the integer engine's computation, so predict gives its logits for the
 * current codes) and a straight-through backward; tensors() are each layer's weight, then its bias when it has one.
 */
export interface NativeQatNet extends NativeBatchNet {
  /** Per layer: the weight codes and per-channel scales the next forward pass uses. */
  codes(): { codes: Int8Array; scales: Float32Array }[];
}

/** The IBP net's description: an fp32 plan (float IBP) or a QAT description (QA-IBP); conv, gemm, clamp, flatten. */
export type IbpNetSpec = { mode: 'float'; plan: FloatPlanSpec } | { mode: 'quantized'; plan: QatNetSpec };

/** The loss of one IBP batch (native/train/ibp_net.h): box radius, hinge weight and target, width weight. */
export interface IbpLossSettings {
  eps: number;
  kappa: number;
  delta: number;
  lambda: number;
}

export interface IbpBatch extends IbpLossSettings {
  /** NCHW images in [0, 1]. */
  input: Float32Array;
  labels: Int32Array;
  batch: number;
  threads: number;
}

export interface AdamSettings {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
}

export interface IbpBatchStats {
  /** ce + kappa * hinge + lambda * width. */
  loss: number;
  ce: number;
  hinge: number;
  width: number;
  correct: number;
  /** Images whose box's lower label logit exceeds every other upper logit. */
  certified: number;
}

export interface NativeIbpNet {
  readonly classes: number;
  readonly quantized: boolean;
  readonly adamStep: number;
  step(request: IbpBatch & AdamSettings): Promise<IbpBatchStats>;
  gradients(request: IbpBatch): Promise<IbpBatchStats>;
  /** Per image: the point's logits and the ends of its box's logits, [batch x classes] each. */
  bounds(request: { input: Float32Array; batch: number; threads: number; eps: number }): Promise<{ logits: Float32Array; lower: Float32Array; upper: Float32Array }>;
  /** Each layer's weight, then its bias when it has one (grads(): their gradients after gradients() or step()). */
  tensors(): Float32Array[];
  grads(): Float32Array[];
  /** Adam's first moments of every tensor, then its second moments. */
  moments(): Float32Array[];
  setMoments(moments: Float32Array[], step: number): void;
}

interface Addon {
  cpuInfo(): { detected: IsaName; active: IsaName; threads: number };
  /** The memory limit of a plan whose spec has no maxMemory (bytes). */
  readonly defaultMaxMemory: number;
  _setIsaCap(isa: IsaName): void;
  _setLutDispatch(mode: LutDispatch): void;
  FloatPlan: new (spec: FloatPlanSpec) => NativeFloatPlan;
  IntPlan: new (spec: IntPlanSpec) => NativeIntPlan;
  /** Per-output-channel weight codes and scales by the clip search of quantization.md (engine/clip_search.h). */
  quantizeWeights(weight: Float32Array, channels: number, bits: number): { codes: Int8Array; scales: Float32Array };
  /** A tensor's activation grid from its calibration range and histogram (engine/clip_search.h). */
  activationGrid(lo: number, hi: number, counts: Float64Array, bits: number): { scale: number; zero: number };
  /**
   * `samples` noisy copies of `imageData`, sample-major: imageData[j] + sigma * n(seed, image, firstSample + s, j) by
   * the counter-based generator (native/noise) at the active ISA level, on the calling thread; seed = seedHi * 2^32 +
   * seedLo.
   */
  addGaussianNoise(seedHi: number, seedLo: number, image: number, firstSample: number, samples: number, imageData: Float32Array, sigma: number): Float32Array;
  TrainNet: new (spec: TrainNetSpec) => NativeTrainNet;
  QatNet: new (spec: QatNetSpec) => NativeQatNet;
  IbpNet: new (spec: IbpNetSpec) => NativeIbpNet;
  CancelFlag: new () => NativeCancelFlag;
  _f32Kernels: NativeF32Kernels;
  _qu8Kernels: NativeQu8Kernels;
  _kernelTiming: NativeKernelTiming;
  _noise: NativeNoise;
}

function locateAddon(): string {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const candidates = ['build/Release/arq.node', 'build/Debug/arq.node'].map((p) => path.join(root, p));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new ArqError(`the native addon is not built (looked for ${candidates.join(', ')}); run \`npm install\` or \`npm run build\``);
  return found;
}

let loaded: Addon | undefined;

export function addon(): Addon {
  loaded ??= createRequire(import.meta.url)(locateAddon()) as Addon;
  return loaded;
}

/** Runs a native async call so that its rejection carries the JavaScript stack of the caller. */
export async function withStack<T>(call: () => Promise<T>): Promise<T> {
  const trace = new Error();
  try {
    return await call();
  } catch (error) {
    if (error instanceof Error) error.stack = `${error.name}: ${error.message}\n${(trace.stack ?? '').split('\n').slice(1).join('\n')}`;
    throw error;
  }
}

export function cpuInfo(): { detected: IsaName; active: IsaName; threads: number } {
  return addon().cpuInfo();
}

/** ISA levels this CPU supports, lowest first. */
export function supportedIsas(): IsaName[] {
  return ISA_LEVELS.slice(0, ISA_LEVELS.indexOf(cpuInfo().detected) + 1);
}

/** Caps the ISA used by plans built afterwards (tests and benchmarks compare the paths in one process). */
export function setIsaCap(isa: IsaName): void {
  addon()._setIsaCap(isa);
}

/**
 * Which conv/gemm layers of integer plans built afterwards run on the table-lookup GEMM (native/engine/lut_dispatch.h):
 * 'measured' (the default: where bench measured it faster than the int8 path), 'always' (every layer it can run:
 * tests of the lookup path, and the benchmark that measures it) or 'never'. The codes are the same either way.
 */
export type LutDispatch = 'measured' | 'always' | 'never';
export function setLutDispatch(mode: LutDispatch): void {
  addon()._setLutDispatch(mode);
}

let memoryLimitOverride: number | undefined;

/** Bytes one native plan call may allocate unless a build says otherwise: setMaxMemory's value, else 2 GiB. */
export function defaultMaxMemory(): number {
  return memoryLimitOverride ?? addon().defaultMaxMemory;
}

/** Sets defaultMaxMemory() for plans built afterwards (the CLI's --max-memory); undefined restores 2 GiB. */
export function setMaxMemory(bytes: number | undefined): void {
  memoryLimitOverride = bytes === undefined ? undefined : integerInRange('maxMemory', bytes, 2 ** 20, Number.MAX_SAFE_INTEGER);
}

export function f32Kernels(): NativeF32Kernels {
  return addon()._f32Kernels;
}

export function qu8Kernels(): NativeQu8Kernels {
  return addon()._qu8Kernels;
}

export function kernelTiming(): NativeKernelTiming {
  return addon()._kernelTiming;
}

export function noise(): NativeNoise {
  return addon()._noise;
}

export function cancelFlag(): NativeCancelFlag {
  return new (addon().CancelFlag)();
}
