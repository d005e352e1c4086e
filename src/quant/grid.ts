/**
 * Quantization grids (quantization.md, Number formats): `real = scale * (q - zero)`. Weights use per-channel
 * symmetric signed grids; activations use per-tensor grids with a zero point, chosen from calibration histograms.
 *
 * Clipping rules (deterministic):
 * - weights: per output channel, the clip is the fraction f of max|w_c| that minimises the channel's squared
 *   error (in double), f in {1.00, 0.99, ..., 0.30}, the first minimum winning;
 * - activations: the range [lo, hi] of the calibration data is shrunk by the fraction f in
 *   ACTIVATION_CLIP_FRACTIONS = {1.00, 0.99, ..., 0.10} that minimises the squared quantization error over the
 *   histogram (bin centres weighted by counts). A tensor that is never negative gets zero point 0.
 */

import { addon } from '../native.js';

export interface Grid {
  readonly scale: number;
  readonly zero: number;
  readonly bits: number;
}

const fractions = (from: number, to: number): number[] => Array.from({ length: Math.round((from - to) * 100) + 1 }, (_, i) => Math.round((from - i * 0.01) * 100) / 100);
export const ACTIVATION_CLIP_FRACTIONS = fractions(1, 0.1);

/** Round half to even: the one rounding rule of arq's quantization. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

export function clampInt(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/**
 * Per-output-channel symmetric quantization of a weight tensor laid out [out][...], by the clip rule above. The
 * search runs natively (engine/weight_codes.h, the one implementation, shared with QAT): it visits every weight 71
 * times, which took 0.35 s on the JavaScript thread for ResNet-20 and takes 0.06 s there.
 */
export function quantizeWeights(weight: Float32Array, channels: number, bits: number): { codes: Int8Array; scales: Float32Array } {
  return addon().quantizeWeights(weight, channels, bits);
}

/** The grid for a tensor observed in [lo, hi] with histogram `counts` (equal bins over [lo, hi]). */
export function activationGrid(lo: number, hi: number, counts: ArrayLike<number>, bits: number): Grid {
  const levels = 2 ** bits - 1;
  const nonNegative = lo >= 0;
  const low = Math.min(lo, 0);
  const high = Math.max(hi, 0);
  if (high - low <= 0) return { scale: 1, zero: 0, bits };
  const width = (hi - lo) / counts.length;
  const gridFor = (fraction: number): Grid => {
    const clipLo = nonNegative ? 0 : fraction * low;
    const clipHi = fraction * high;
    const scale = Math.fround(Math.max((clipHi - clipLo) / levels, 1e-12));
    const zero = nonNegative ? 0 : clampInt(roundHalfEven(-clipLo / scale), 0, levels);
    return { scale, zero, bits };
  };
  let best: { error: number; grid: Grid } | undefined;
  for (const fraction of ACTIVATION_CLIP_FRACTIONS) {
    const grid = gridFor(fraction);
    let error = 0;
    for (let bin = 0; bin < counts.length; bin++) {
      if (counts[bin] === 0) continue;
      const x = lo + (bin + 0.5) * width;
      const q = clampInt(roundHalfEven(x / grid.scale) + grid.zero, 0, levels);
      error += counts[bin] * (x - grid.scale * (q - grid.zero)) ** 2;
    }
    if (!best || error < best.error) best = { error, grid };
  }
  return best!.grid;
}
