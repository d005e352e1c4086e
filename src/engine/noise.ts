/**
 * Gaussian noise for arq's TypeScript side, from the native counter-based generator (native/noise): the noise of
 * element j of sample i of image k is a pure function of (seed, k, i, j), so any caller that names the same
 * (seed, image, sample) gets the same noise.
 */
import { cpuInfo, noise } from '../native.js';

/** `image` plus sigma * N(0, 1) noise of sample `sample` of dataset image `imageIndex`. */
export function noisyCopy(image: Float32Array, sigma: number, seed: number, imageIndex: number, sample = 0): Float32Array {
  const seedHi = Math.floor(seed / 2 ** 32);
  const seedLo = seed % 2 ** 32;
  return noise().addGaussian(cpuInfo().active, seedHi, seedLo, imageIndex, sample, 1, image, sigma);
}
