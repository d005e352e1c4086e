/**
 * Float64Array <-> base64 of its bytes, for checkpoints: exact (no decimal round trip) and a third smaller than
 * JSON numbers. Bytes are in the platform's order, little-endian on every machine arq builds for.
 */
import { ArqError } from '../../util/errors.js';

export function encodeFloat64(values: Float64Array): string {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');
}

/** Decodes `text` into a new Float64Array, checking it holds exactly `length` values (named `name` in errors). */
export function decodeFloat64(name: string, text: string, length: number): Float64Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.byteLength !== length * Float64Array.BYTES_PER_ELEMENT) {
    throw new ArqError(`${name}: expected ${length} float64 values, got ${bytes.byteLength} bytes`);
  }
  // Copy into a fresh, aligned buffer: Buffer.from may return a view into a shared pool at any offset.
  const out = new Float64Array(length);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}
