// Shared fixtures for the data tests: temp directories, hand-built idx and CIFAR-10 files, ArqError assertions.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import { ArqError } from '../../src/util/errors.js';

/** A fresh temp directory, removed after the calling test file. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'arq-data-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An idx images file: magic 0x00000803, dims, then count*rows*cols bytes from pixel(i). */
export function idxImages(count: number, rows: number, cols: number, pixel: (i: number) => number = (i) => i % 256): Buffer {
  const buf = Buffer.alloc(16 + count * rows * cols);
  buf.writeUInt32BE(0x00000803, 0);
  buf.writeUInt32BE(count, 4);
  buf.writeUInt32BE(rows, 8);
  buf.writeUInt32BE(cols, 12);
  for (let i = 0; i < count * rows * cols; i++) buf[16 + i] = pixel(i);
  return buf;
}

/** An idx labels file: magic 0x00000801, count, then one byte per label. */
export function idxLabels(labels: readonly number[]): Buffer {
  const buf = Buffer.alloc(8 + labels.length);
  buf.writeUInt32BE(0x00000801, 0);
  buf.writeUInt32BE(labels.length, 4);
  labels.forEach((l, i) => (buf[8 + i] = l));
  return buf;
}

/** A CIFAR-10 batch: per record one label byte then R, G, B planes of 32x32, plane c of record r filled by pixel(r, c, p). */
export function cifarBatch(labels: readonly number[], pixel: (r: number, c: number, p: number) => number): Buffer {
  const buf = Buffer.alloc(labels.length * 3073);
  labels.forEach((l, r) => {
    buf[r * 3073] = l;
    for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) buf[r * 3073 + 1 + c * 1024 + p] = pixel(r, c, p);
  });
  return buf;
}

/** Assert that `run` throws (or rejects with) an ArqError whose message matches every pattern. */
export async function expectArqError(run: (() => unknown) | Promise<unknown>, ...patterns: (RegExp | string)[]): Promise<ArqError> {
  let caught: unknown;
  try {
    await (typeof run === 'function' ? run() : run);
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected an ArqError').toBeInstanceOf(ArqError);
  const message = (caught as ArqError).message;
  for (const p of patterns) {
    if (typeof p === 'string') expect(message).toContain(p);
    else expect(message).toMatch(p);
  }
  return caught as ArqError;
}
