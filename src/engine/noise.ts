/**
 * Gaussian noise for arq's TypeScript side, from the native counter-based generator (native/noise): the noise of
 * element j of sample i of image k is a pure function of (seed, k, i, j), so any caller that names the same
 * (seed, image, sample) gets the same noise.
 */
import { addon } from '../native.js';
import { ArqError } from '../util/errors.js';

/** The noise key as the two uint32 words the native entries take. */
export function seedWords(seed: number | bigint): { seedHi: number; seedLo: number } {
  if (typeof seed === 'bigint') {
    if (seed < 0n || seed >= 2n ** 64n) throw new ArqError(`seed: expected a 64-bit unsigned integer, got ${seed}`);
    return { seedHi: Number(seed >> 32n), seedLo: Number(seed & 0xffffffffn) };
  }
  if (!Number.isSafeInteger(seed) || seed < 0) throw new ArqError(`seed: expected a non-negative integer, got ${seed}`);
  return { seedHi: Math.floor(seed / 2 ** 32), seedLo: seed % 2 ** 32 };
}

/** `image` plus sigma * N(0, 1) noise of sample `sample` of dataset image `imageIndex`. */
export function noisyCopy(image: Float32Array, sigma: number, seed: number, imageIndex: number, sample = 0): Float32Array {
  return noisyCopies(image, sigma, seedWords(seed), imageIndex, sample, 1);
}

/** `samples` noisy copies of `image` (samples first .. first+samples-1 of dataset image `imageIndex`), sample-major. */
export function noisyCopies(image: Float32Array, sigma: number, seed: { seedHi: number; seedLo: number }, imageIndex: number, first: number, samples: number): Float32Array {
  return addon().addGaussianNoise(seed.seedHi, seed.seedLo, imageIndex, first, samples, image, sigma);
}
