/** What the kernel tests share: the addon's internal entry points, the ISA levels this CPU has, a seeded PRNG. */
import { cpuInfo, ISA_LEVELS, type IsaName } from '../../src/native.js';

export { f32Kernels, qu8Kernels, noise } from '../../src/native.js';
export const LEVELS: readonly IsaName[] = ISA_LEVELS;
/** Index in LEVELS of the best level this CPU supports; levels above it are reported as skipped. */
export const detected = LEVELS.indexOf(cpuInfo().detected);

/** A small seeded PRNG (mulberry32) with uniform output in [0, 1). */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
