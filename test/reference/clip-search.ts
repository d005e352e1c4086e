/**
 * Brute-force references of the two clip searches of quantization.md, written from the contracts stated in
 * src/engine/grid.ts and native/engine/clip_search.h (not from their code): every candidate fraction is tried in
 * double precision, ties to even, the first minimum winning.
 */
import { roundHalfEven } from '../support/requant.js';

const f = Math.fround;

/** Fractions 1.00, 0.99, ..., down to `last` / 100. */
function fractions(last: number): number[] {
  return Array.from({ length: 100 - last + 1 }, (_, i) => (100 - i) / 100);
}

function firstMinimum<T>(candidates: T[], error: (c: T) => number): T {
  let best = candidates[0];
  let bestError = error(best);
  for (const candidate of candidates.slice(1)) {
    const e = error(candidate);
    if (e < bestError) [best, bestError] = [candidate, e];
  }
  return best;
}

/** Per output channel of `weight` ([channels][rest]): symmetric codes in ±(2^(bits-1) - 1) and their scale. */
export function referenceWeightCodes(weight: Float32Array, channels: number, bits: number): { codes: Int8Array; scales: Float32Array } {
  const qmax = 2 ** (bits - 1) - 1;
  const per = weight.length / channels;
  const codes = new Int8Array(weight.length);
  const scales = new Float32Array(channels);
  const code = (w: number, scale: number) => Math.min(Math.max(roundHalfEven(w / scale), -qmax), qmax);
  const squaredError = (w: Float32Array, scale: number) => {
    let sum = 0;
    for (let i = 0; i < w.length; i++) sum += (w[i] - scale * code(w[i], scale)) ** 2;
    return sum;
  };
  for (let c = 0; c < channels; c++) {
    const w = weight.subarray(c * per, (c + 1) * per);
    let maxAbs = 0;
    for (let i = 0; i < w.length; i++) maxAbs = Math.max(maxAbs, Math.abs(w[i]));
    if (maxAbs === 0) {
      scales[c] = 1;
      continue;
    }
    const scale = firstMinimum(fractions(30).map((fraction) => f((fraction * maxAbs) / qmax)), (s) => squaredError(w, s));
    scales[c] = scale;
    for (let i = 0; i < per; i++) codes[c * per + i] = code(w[i], scale);
  }
  return { codes, scales };
}

/**
 * The activation grid of a tensor seen in [lo, hi] with `counts` over equal bins: the range (widened to hold 0) shrunk
 * by the fraction that minimises the count-weighted squared error at the bin centres.
 */
export function referenceActivationGrid(lo: number, hi: number, counts: ArrayLike<number>, bits: number): { scale: number; zero: number } {
  const levels = 2 ** bits - 1;
  const low = Math.min(lo, 0);
  const high = Math.max(hi, 0);
  if (high - low === 0) return { scale: 1, zero: 0 };
  const width = (hi - lo) / counts.length;
  const grid = (fraction: number) => {
    const scale = f(Math.max((fraction * high - fraction * low) / levels, 1e-12));
    return { scale, zero: Math.min(Math.max(roundHalfEven((-fraction * low) / scale), 0), levels) };
  };
  const error = ({ scale, zero }: { scale: number; zero: number }) => {
    let sum = 0;
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] === 0) continue;
      const x = lo + (i + 0.5) * width;
      const q = Math.min(Math.max(roundHalfEven(x / scale) + zero, 0), levels);
      sum += counts[i] * (x - scale * (q - zero)) ** 2;
    }
    return sum;
  };
  return firstMinimum(fractions(10).map(grid), error);
}
