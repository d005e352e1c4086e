/**
 * User-option checks. Each throws an ArqError whose message names the parameter, what was expected and what
 * arrived, so callers can validate at the first bad option before any native work starts.
 */
import { ArqError } from './errors.js';

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  return `a ${typeof value}`;
}

export function invalid(name: string, expected: string, value: unknown): ArqError {
  return new ArqError(`${name}: expected ${expected}, got ${describe(value)}`);
}

export function integerInRange(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(name, `an integer in [${min}, ${max}]`, value);
  }
  return value;
}

export function numberInRange(name: string, value: unknown, min: number, max: number, options: { exclusiveMin?: boolean; exclusiveMax?: boolean } = {}): number {
  const tooLow = typeof value === 'number' && (options.exclusiveMin ? value <= min : value < min);
  const tooHigh = typeof value === 'number' && (options.exclusiveMax ? value >= max : value > max);
  if (typeof value !== 'number' || !Number.isFinite(value) || tooLow || tooHigh) {
    throw invalid(name, `a number in ${options.exclusiveMin ? '(' : '['}${min}, ${max}${options.exclusiveMax ? ')' : ']'}`, value);
  }
  return value;
}

export function oneOf<T extends string>(name: string, value: unknown, choices: readonly T[]): T {
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw invalid(name, `one of ${choices.join(', ')}`, value);
  }
  return value as T;
}

/**
 * The values an image may hold: arq's models take images scaled to [0, 1] (normalisation is part of the model), and
 * this range widens that domain by its own width on each side, so slightly out-of-range inputs (unclipped noise,
 * rounding) still pass while values that can only be garbage (1e30, a normalisation applied twice, 0..255 pixels)
 * fail before they reach an engine.
 */
export const IMAGE_VALUE_RANGE = { min: -1, max: 2 } as const;

/** Index of the first value of `values` outside [min, max] (NaN counts as outside), or -1. */
function firstOutside(values: Float32Array, min: number, max: number): number {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= min && v <= max)) return i;
  }
  return -1;
}

/** A Float32Array of exactly `length` values (`length` undefined: any length), or an ArqError naming `name`. */
export function float32Array(name: string, value: unknown, length?: number): Float32Array {
  if (!(value instanceof Float32Array)) throw invalid(name, length === undefined ? 'a Float32Array' : `a Float32Array of ${length} values`, value);
  if (length !== undefined && value.length !== length) {
    throw new ArqError(`${name}: expected a Float32Array of ${length} values, got ${value.length} values`);
  }
  return value;
}

/**
 * Rejects NaN and +-Infinity with an ArqError naming `name`, the first bad index and its value. One linear pass:
 * negligible next to any inference on the same values.
 */
export function finiteValues(name: string, values: Float32Array): Float32Array {
  const bad = firstOutside(values, -Number.MAX_VALUE, Number.MAX_VALUE);
  if (bad >= 0) throw new ArqError(`${name}: expected finite values, got ${values[bad]} at index ${bad}`);
  return values;
}

/**
 * Rejects any value outside IMAGE_VALUE_RANGE (NaN and infinities included), naming `name` and the first bad index.
 * For a batch of images of `imageSize` values whose first is image `firstImage` of a dataset, the message names the
 * image and the index within it.
 */
export function imageValues(name: string, values: Float32Array, batch?: { imageSize: number; firstImage: number }): Float32Array {
  const { min, max } = IMAGE_VALUE_RANGE;
  const bad = firstOutside(values, min, max);
  if (bad < 0) return values;
  const where = batch ? `image ${batch.firstImage + Math.floor(bad / batch.imageSize)} index ${bad % batch.imageSize}` : `index ${bad}`;
  throw new ArqError(`${name}: expected image values in [${min}, ${max}] (images are scaled to [0, 1]), got ${values[bad]} at ${where}`);
}
