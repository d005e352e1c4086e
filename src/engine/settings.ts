/**
 * The run settings that several operations share, each with its one range and its one message: every library entry
 * that takes one of them checks it here, and the CLI passes its flags through unchanged, so a user of the API and a
 * user of the CLI see the same error. They sit in the engine because their lowest users do (the noisy prediction, the
 * agreement check and calibration run the engine under noise); certification, training, search and the service above
 * read them from here.
 */
import { integerInRange, numberInRange } from '../util/check.js';

/** Noise samples per image that the counter-based noise addresses: sample numbers 0 .. 2^32 - 1. */
export const MAX_SAMPLES = 2 ** 32;


/**
 * sigma, the Gaussian noise's standard deviation on [0, 1] images, in [0, 10]: 0 is no noise (clean training or
 * calibration); far below 10 the noise already drowns any image.
 */
export function checkSigma(value: unknown): number {
  return numberInRange('sigma', value, 0, 10);
}

/** seed, the key of reproducible noise and initialisation: an integer in [0, 2^53 - 1] (both words of the noise key). */
export function checkSeed(value: unknown): number {
  return integerInRange('seed', value, 0, Number.MAX_SAFE_INTEGER);
}

/**
 * The seed `offset` (a non-negative safe integer) after a checked `seed`, wrapping past 2^53 - 1 to 0, so that a
 * stage that derives its own seed (the search's explorers and re-scoring) accepts every seed the user may give.
 */
export function offsetSeed(seed: number, offset: number): number {
  const room = Number.MAX_SAFE_INTEGER - seed;
  return offset <= room ? seed + offset : offset - room - 1;
}

/** batch, inputs per engine call: an integer in [1, 65536]. */
export function checkBatch(value: unknown): number {
  return integerInRange('batch', value, 1, 65536);
}

/** threads, the workers of one native job: an integer in [1, 256]. */
export function checkThreads(value: unknown): number {
  return integerInRange('threads', value, 1, 256);
}

/** n0, Cohen's selection samples per image: an integer in [1, 2^32 - 1] (n0 + n samples must fit the noise counter). */
export function checkN0(value: unknown): number {
  return integerInRange('n0', value, 1, MAX_SAMPLES - 1);
}

/** n, estimation (or PREDICT's) samples per image after `first` others: an integer in [1, 2^32 - first]. */
export function checkN(value: unknown, first = 0): number {
  return integerInRange('n', value, 1, MAX_SAMPLES - first);
}

/**
 * A failure probability (alpha, and IRS's alphaZeta under its own name): a number in (0, 1); at 0 nothing can be
 * certified, at 1 nothing is promised.
 */
export function checkFailureProbability(value: unknown, name: 'alpha' | 'alphaZeta' = 'alpha'): number {
  return numberInRange(name, value, 0, 1, { exclusiveMin: true, exclusiveMax: true });
}
