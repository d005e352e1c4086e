/**
 * User-option checks. Each throws an ArqError whose message names the parameter, what was expected and what
 * arrived, so callers can validate at the first bad option before any native work starts.
 */
import { ArqError } from './errors.js';

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
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

export function nonEmptyString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(name, 'a non-empty string', value);
  return value;
}

export function oneOf<T extends string>(name: string, value: unknown, choices: readonly T[]): T {
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw invalid(name, `one of ${choices.join(', ')}`, value);
  }
  return value as T;
}
