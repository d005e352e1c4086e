/**
 * A small dense network (ReLU hidden layers, sigmoid or linear output) with batched forward and backward passes,
 * and Adam. Hand-written on Float64Array rather than taken from an ML library: the agent's 300-unit networks on
 * batches of 64 are a few million multiply-adds per pass, well within plain JavaScript, while the JavaScript ML
 * libraries either download native binaries at install time or bring a large runtime. Float64 keeps the gradient
 * checks tight; plain IEEE arithmetic (and V8's own Math.exp) gives the same bits on every machine.
 *
 * Layout: a batch is row-major [batch][features]; a weight matrix is row-major [out][in], as torch's Linear. Every
 * inner loop then walks one row of the weights and one row of the batch contiguously: forward as dot products,
 * backward as axpy updates.
 */
import type { Random } from '../../util/random.js';
import { decodeFloat64, encodeFloat64 } from './codec.js';
import { ArqError } from '../../util/errors.js';

export type OutputActivation = 'sigmoid' | 'linear';

/** One fully connected layer with its gradient accumulators. */
export class Dense {
  readonly weight: Float64Array;
  readonly bias: Float64Array;
  readonly gradWeight: Float64Array;
  readonly gradBias: Float64Array;

  constructor(readonly inSize: number, readonly outSize: number) {
    this.weight = new Float64Array(outSize * inSize);
    this.bias = new Float64Array(outSize);
    this.gradWeight = new Float64Array(outSize * inSize);
    this.gradBias = new Float64Array(outSize);
  }

  /**
   * y[b][o] = bias[o] + sum_i weight[o][i] x[b][i]. Four batch rows and two weight rows share each pass, so each
   * load serves several multiply-adds on independent sums (V8 keeps the eight sums in registers); every output is
   * still summed in the order bias, i = 0, 1, ..., whichever loop computes it.
   */
  forward(x: Float64Array, batch: number): Float64Array {
    const { inSize, outSize, weight, bias } = this;
    const y = new Float64Array(batch * outSize);
    let b = 0;
    for (; b + 4 <= batch; b += 4) {
      const x0 = b * inSize;
      const x1 = x0 + inSize;
      const x2 = x1 + inSize;
      const x3 = x2 + inSize;
      let o = 0;
      for (; o + 2 <= outSize; o += 2) {
        const wA = o * inSize;
        const wB = wA + inSize;
        let a0 = bias[o];
        let a1 = a0;
        let a2 = a0;
        let a3 = a0;
        let b0 = bias[o + 1];
        let b1 = b0;
        let b2 = b0;
        let b3 = b0;
        for (let i = 0; i < inSize; i++) {
          const v0 = x[x0 + i];
          const v1 = x[x1 + i];
          const v2 = x[x2 + i];
          const v3 = x[x3 + i];
          const wa = weight[wA + i];
          const wb = weight[wB + i];
          a0 += wa * v0;
          a1 += wa * v1;
          a2 += wa * v2;
          a3 += wa * v3;
          b0 += wb * v0;
          b1 += wb * v1;
          b2 += wb * v2;
          b3 += wb * v3;
        }
        y[b * outSize + o] = a0;
        y[(b + 1) * outSize + o] = a1;
        y[(b + 2) * outSize + o] = a2;
        y[(b + 3) * outSize + o] = a3;
        y[b * outSize + o + 1] = b0;
        y[(b + 1) * outSize + o + 1] = b1;
        y[(b + 2) * outSize + o + 1] = b2;
        y[(b + 3) * outSize + o + 1] = b3;
      }
      for (; o < outSize; o++) {
        const wRow = o * inSize;
        let s0 = bias[o];
        let s1 = s0;
        let s2 = s0;
        let s3 = s0;
        for (let i = 0; i < inSize; i++) {
          const w = weight[wRow + i];
          s0 += w * x[x0 + i];
          s1 += w * x[x1 + i];
          s2 += w * x[x2 + i];
          s3 += w * x[x3 + i];
        }
        y[b * outSize + o] = s0;
        y[(b + 1) * outSize + o] = s1;
        y[(b + 2) * outSize + o] = s2;
        y[(b + 3) * outSize + o] = s3;
      }
    }
    for (; b < batch; b++) {
      const xRow = b * inSize;
      for (let o = 0; o < outSize; o++) {
        const wRow = o * inSize;
        let sum = bias[o];
        for (let i = 0; i < inSize; i++) sum += weight[wRow + i] * x[xRow + i];
        y[b * outSize + o] = sum;
      }
    }
    return y;
  }

  /**
   * Given dL/dy, returns dL/dx and, when `gradParams`, adds dL/dweight and dL/dbias to the accumulators. Each row
   * stored to is updated from four rows at once, and two target rows share each pass over those four (one load of
   * the source rows serves both), so every target receives the same sums in the same order as it would alone.
   * Groups of four whose gradients are all zero for a target (ReLU units that were off) are skipped for that target.
   */
  backward(x: Float64Array, gradY: Float64Array, batch: number, gradParams: boolean): Float64Array {
    const { inSize, outSize } = this;
    const gradX = new Float64Array(batch * inSize);
    // dL/dx[b] = sum_o dL/dy[b][o] weight[o]: rows b and b + 1 of gradX per pass over four weight rows.
    let b = 0;
    for (; b + 2 <= batch; b += 2) this.accumulateRows(gradX, b * inSize, (b + 1) * inSize, gradY, b * outSize, (b + 1) * outSize, 1, outSize, this.weight);
    if (b < batch) this.accumulateRows(gradX, b * inSize, -1, gradY, b * outSize, -1, 1, outSize, this.weight);
    if (!gradParams) return gradX;
    // dL/dweight[o] = sum_b dL/dy[b][o] x[b]: rows o and o + 1 of gradWeight per pass over four batch rows.
    let o = 0;
    for (; o + 2 <= outSize; o += 2) this.accumulateRows(this.gradWeight, o * inSize, (o + 1) * inSize, gradY, o, o + 1, outSize, batch, x);
    if (o < outSize) this.accumulateRows(this.gradWeight, o * inSize, -1, gradY, o, -1, outSize, batch, x);
    for (let k = 0; k < outSize; k++) {
      for (let r = 0; r < batch; r++) this.gradBias[k] += gradY[r * outSize + k];
    }
    return gradX;
  }

  /**
   * target[atA .. atA+inSize) += sum_r coef[firstA + r*stride] * rows[r], and the same into atB with the
   * coefficients from firstB (atB -1: atA alone), over `count` rows of length inSize in `rows`, four rows per step.
   */
  private accumulateRows(target: Float64Array, atA: number, atB: number, coef: Float64Array, firstA: number, firstB: number, stride: number, count: number, rows: Float64Array): void {
    const n = this.inSize;
    const pair = atB >= 0;
    let r = 0;
    for (; r + 4 <= count; r += 4) {
      const a0 = coef[firstA + r * stride];
      const a1 = coef[firstA + (r + 1) * stride];
      const a2 = coef[firstA + (r + 2) * stride];
      const a3 = coef[firstA + (r + 3) * stride];
      const b0 = pair ? coef[firstB + r * stride] : 0;
      const b1 = pair ? coef[firstB + (r + 1) * stride] : 0;
      const b2 = pair ? coef[firstB + (r + 2) * stride] : 0;
      const b3 = pair ? coef[firstB + (r + 3) * stride] : 0;
      const aZero = a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0;
      const bZero = b0 === 0 && b1 === 0 && b2 === 0 && b3 === 0;
      if (aZero && bZero) continue;
      const r0 = r * n;
      const r1 = r0 + n;
      const r2 = r1 + n;
      const r3 = r2 + n;
      if (bZero) {
        for (let i = 0; i < n; i++) target[atA + i] += a0 * rows[r0 + i] + a1 * rows[r1 + i] + a2 * rows[r2 + i] + a3 * rows[r3 + i];
      } else if (aZero) {
        for (let i = 0; i < n; i++) target[atB + i] += b0 * rows[r0 + i] + b1 * rows[r1 + i] + b2 * rows[r2 + i] + b3 * rows[r3 + i];
      } else {
        for (let i = 0; i < n; i++) {
          const v0 = rows[r0 + i];
          const v1 = rows[r1 + i];
          const v2 = rows[r2 + i];
          const v3 = rows[r3 + i];
          target[atA + i] += a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3;
          target[atB + i] += b0 * v0 + b1 * v1 + b2 * v2 + b3 * v3;
        }
      }
    }
    for (; r < count; r++) {
      const a = coef[firstA + r * stride];
      const c = pair ? coef[firstB + r * stride] : 0;
      const row = r * n;
      if (a !== 0) for (let i = 0; i < n; i++) target[atA + i] += a * rows[row + i];
      if (c !== 0) for (let i = 0; i < n; i++) target[atB + i] += c * rows[row + i];
    }
  }
}

/** What a forward pass leaves for its backward pass: the input and every layer's output after its activation. */
export interface MlpTrace {
  batch: number;
  activations: Float64Array[];
}

/** The network's output, row-major [batch][outSize]. */
export function outputOf(trace: MlpTrace): Float64Array {
  return trace.activations[trace.activations.length - 1];
}

/** Parameters as base64 of their float64 bytes, in `parameters()` order. */
export type MlpState = string[];

export class Mlp {
  readonly layers: Dense[];

  /** `sizes` = [input, hidden..., output]; parameters start at zero (see `initialize`). */
  constructor(sizes: readonly number[], readonly output: OutputActivation) {
    this.layers = [];
    for (let k = 1; k < sizes.length; k++) this.layers.push(new Dense(sizes[k - 1], sizes[k]));
  }

  /**
   * DDPG's initialisation (Lillicrap et al.): hidden layers' weights and biases uniform on +-1/sqrt(fan-in), the
   * last layer's on +-finalRange, so the first outputs sit near sigmoid(0) or 0.
   */
  initialize(rng: Random, finalRange: number): void {
    this.layers.forEach((layer, k) => {
      const range = k === this.layers.length - 1 ? finalRange : 1 / Math.sqrt(layer.inSize);
      for (const values of [layer.weight, layer.bias]) {
        for (let j = 0; j < values.length; j++) values[j] = (2 * rng.uniform() - 1) * range;
      }
    });
  }

  /** Weight and bias of each layer, in order; Adam and checkpoints share this order. */
  parameters(): Float64Array[] {
    return this.layers.flatMap((layer) => [layer.weight, layer.bias]);
  }

  /** Gradient accumulators matching `parameters()`. */
  gradients(): Float64Array[] {
    return this.layers.flatMap((layer) => [layer.gradWeight, layer.gradBias]);
  }

  zeroGrad(): void {
    for (const grad of this.gradients()) grad.fill(0);
  }

  /** Runs a row-major [batch][inSize] input; the trace's last activation is the [batch][outSize] output. */
  forward(input: Float64Array, batch: number): MlpTrace {
    const activations = [input];
    this.layers.forEach((layer, k) => {
      const y = layer.forward(activations[k], batch);
      const last = k === this.layers.length - 1;
      if (!last) for (let j = 0; j < y.length; j++) y[j] = Math.max(0, y[j]);
      else if (this.output === 'sigmoid') for (let j = 0; j < y.length; j++) y[j] = 1 / (1 + Math.exp(-y[j]));
      activations.push(y);
    });
    return { batch, activations };
  }

  /**
   * Backpropagates dL/doutput through the trace's pass; returns dL/dinput. Parameter gradients are added to the
   * accumulators unless `gradParams` is false (the actor's update needs only the critic's gradient wrt its input).
   */
  backward(trace: MlpTrace, gradOutput: Float64Array, options: { gradParams: boolean }): Float64Array {
    const { batch, activations } = trace;
    let grad: Float64Array = Float64Array.from(gradOutput);
    for (let k = this.layers.length - 1; k >= 0; k--) {
      const y = activations[k + 1];
      if (k < this.layers.length - 1) {
        for (let j = 0; j < y.length; j++) if (y[j] <= 0) grad[j] = 0;
      } else if (this.output === 'sigmoid') {
        for (let j = 0; j < y.length; j++) grad[j] *= y[j] * (1 - y[j]);
      }
      grad = this.layers[k].backward(activations[k], grad, batch, options.gradParams);
    }
    return grad;
  }

  save(): MlpState {
    return this.parameters().map(encodeFloat64);
  }

  /** Overwrites the parameters with a saved state of a network of the same shape. */
  load(state: MlpState): void {
    const params = this.parameters();
    if (!Array.isArray(state) || state.length !== params.length) {
      throw new ArqError(`network state: expected ${params.length} parameter arrays`);
    }
    params.forEach((param, j) => param.set(decodeFloat64(`network parameter ${j}`, state[j], param.length)));
  }
}

/** Adam's moments and step count, for checkpoints. */
export interface AdamState {
  step: number;
  m: string[];
  v: string[];
}

/** Adam (Kingma and Ba) exactly as torch.optim.Adam without weight decay: bias-corrected moments, eps outside the root. */
export class Adam {
  static readonly BETA1 = 0.9;
  static readonly BETA2 = 0.999;
  static readonly EPS = 1e-8;

  private readonly m: Float64Array[];
  private readonly v: Float64Array[];
  private step = 0;

  constructor(private readonly params: Float64Array[], private readonly lr: number) {
    this.m = params.map((p) => new Float64Array(p.length));
    this.v = params.map((p) => new Float64Array(p.length));
  }

  /** One descent step along `grads` (same order and lengths as the parameters). */
  update(grads: Float64Array[]): void {
    const { BETA1, BETA2, EPS } = Adam;
    this.step++;
    const stepSize = this.lr / (1 - BETA1 ** this.step);
    const rootCorrection = Math.sqrt(1 - BETA2 ** this.step);
    this.params.forEach((p, j) => {
      const g = grads[j];
      const m = this.m[j];
      const v = this.v[j];
      for (let i = 0; i < p.length; i++) {
        m[i] = BETA1 * m[i] + (1 - BETA1) * g[i];
        v[i] = BETA2 * v[i] + (1 - BETA2) * g[i] * g[i];
        p[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / rootCorrection + EPS);
      }
    });
  }

  save(): AdamState {
    return { step: this.step, m: this.m.map(encodeFloat64), v: this.v.map(encodeFloat64) };
  }

  load(state: AdamState): void {
    const n = this.params.length;
    if (!Number.isInteger(state?.step) || state.step < 0 || state.m?.length !== n || state.v?.length !== n) {
      throw new ArqError(`optimizer state: expected a step count and ${n} moment arrays of each kind`);
    }
    this.step = state.step;
    this.params.forEach((p, j) => {
      this.m[j].set(decodeFloat64(`optimizer first moment ${j}`, state.m[j], p.length));
      this.v[j].set(decodeFloat64(`optimizer second moment ${j}`, state.v[j], p.length));
    });
  }
}
