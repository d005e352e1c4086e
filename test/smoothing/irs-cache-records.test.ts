// The IRS cache format written here from its documented layout (smoothing/irs-cache.ts: a JSON header line, then one
// JSON record per line whose "check" is the first 16 hex digits of the sha256 of the record without it), so that
// records with a valid checksum but a bad field, and headers with a bad setting, reach each check of the reader.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { IrsCacheWriter, readIrsCache, type IrsCacheSettings } from '../../src/smoothing/irs-cache.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-irs-records-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const fresh = (): string => path.join(dir, `${files++}.irs`);

const settings: IrsCacheSettings = { sigma: 0.25, seed: 4, n0: 0, n: 3, alpha: 0.001, model: 'f'.repeat(64), data: 'test', engine: 'float' };
const header = (s: unknown): string => JSON.stringify({ format: 'arq-irs-cache', version: 1, settings: s });
const good = { idx: 5, label: 1, classA: 1, pALower: 0.75, prediction: 1, radius: 0.5, seconds: 0.125, predictions: Buffer.from([1, 1, 0]).toString('base64') };

/** A record line with its checksum, as the format describes it. */
function record(fields: { [key: string]: unknown }): string {
  const body = JSON.stringify(fields);
  const check = createHash('sha256').update(body).digest('hex').slice(0, 16);
  return `${body.slice(0, -1)},"check":"${check}"}`;
}

function cacheOf(...lines: string[]): string {
  const file = fresh();
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

describe('records with a valid checksum', () => {
  test('a record written from the format reads back; the limits of each field are allowed', () => {
    const file = cacheOf(header(settings), record(good), record({ ...good, idx: 2 ** 32 - 1, classA: 255, prediction: -1, radius: 0, pALower: 0, seconds: 0 }), record({ ...good, idx: 0, prediction: 255, pALower: 1 }));
    const cache = readIrsCache(file);
    expect([...cache.entries.keys()]).toEqual([5, 2 ** 32 - 1, 0]);
    expect({ ...cache.entries.get(5)!, predictions: Array.from(cache.entries.get(5)!.predictions) }).toEqual({ ...good, predictions: [1, 1, 0] });
  });

  test.each([
    ['idx below 0', { idx: -1 }, 'idx must be an integer in [0, 4294967295], got -1'],
    ['idx at 2^32', { idx: 2 ** 32 }, 'idx must be an integer in [0, 4294967295], got 4294967296'],
    ['a fractional idx', { idx: 1.5 }, 'idx must be an integer in [0, 4294967295], got 1.5'],
    ['idx as a string', { idx: '5' }, 'idx must be an integer in [0, 4294967295], got 5'],
    ['a negative label', { label: -1 }, 'label must be an integer in [0, 9007199254740991], got -1'],
    ['classA 256', { classA: 256 }, 'classA must be an integer in [0, 255], got 256'],
    ['prediction -2', { prediction: -2 }, 'prediction must be an integer in [-1, 255], got -2'],
    ['pALower above 1', { pALower: 1.5 }, 'pALower must be a number in [0, 1], got 1.5'],
    ['pALower below 0', { pALower: -0.25 }, 'pALower must be a number in [0, 1], got -0.25'],
    ['pALower as a string', { pALower: '0.5' }, 'pALower must be a number in [0, 1], got 0.5'],
    ['a negative radius', { radius: -1 }, 'radius must be a number in [0, Infinity], got -1'],
    ['negative seconds', { seconds: -0.5 }, 'seconds must be a number in [0, Infinity], got -0.5'],
    ['predictions as an array', { predictions: [1, 1, 0] }, 'predictions must be a base64 string'],
  ])('a record with %s is refused', (_, change, message) => {
    const file = cacheOf(header(settings), record(good), record({ ...good, ...change }));
    expect(() => readIrsCache(file)).toThrow(`${file} line 3: ${message}`);
  });

  test('a record that is not an object, or has no check, is corruption', () => {
    for (const line of ['[1,2]', 'null', '7', JSON.stringify(good)]) {
      const file = cacheOf(header(settings), line);
      expect(() => readIrsCache(file)).toThrow(new RegExp(`line 2: corrupted record \\((not an object|checksum mismatch)\\)$`));
    }
    const file = cacheOf(header(settings), '[1,2]');
    expect(() => readIrsCache(file)).toThrow(`${file} line 2: corrupted record (not an object)`);
  });
});

describe('the header', () => {
  test('every required setting, of its type; a seed may be a decimal string; n0 may be 0 and n 1', () => {
    const keys = ['sigma', 'seed', 'n0', 'n', 'alpha', 'model', 'data', 'engine'] as const;
    for (const key of keys) {
      const { [key]: _, ...missing } = settings;
      const file = cacheOf(header(missing));
      const type = key === 'seed' ? 'number or string' : typeof settings[key];
      expect(() => readIrsCache(file)).toThrow(`${file}: header setting ${key} is missing or not a ${type}`);
      const wrong = cacheOf(header({ ...settings, [key]: key === 'seed' ? true : typeof settings[key] === 'number' ? '1' : 1 }));
      expect(() => readIrsCache(wrong)).toThrow(`header setting ${key} is missing or not a ${type}`);
    }
    for (const s of [null, [settings], 'settings']) {
      const file = cacheOf(header(s));
      expect(() => readIrsCache(file)).toThrow(`${file}: the header has no settings object`);
    }
    expect(readIrsCache(cacheOf(header({ ...settings, seed: '18446744073709551615' }))).settings.seed).toBe('18446744073709551615');
    const one = { ...good, predictions: Buffer.from([1]).toString('base64') };
    expect(readIrsCache(cacheOf(header({ ...settings, n: 1, n0: 0 }), record(one))).entries.size).toBe(1);
    for (const [n, n0, message] of [[0, 0, 'n must be a positive integer, got 0'], [1.5, 0, 'n must be a positive integer, got 1.5'], [3, -1, 'n0 must be a non-negative integer, got -1'], [3, 0.5, 'n0 must be a non-negative integer, got 0.5']] as const) {
      const file = cacheOf(header({ ...settings, n, n0 }));
      expect(() => readIrsCache(file)).toThrow(`${file}: header setting ${message}`);
    }
  });

  test('a header of another format or version', () => {
    for (const line of [JSON.stringify({ format: 'other', version: 1, settings }), 'null', '7']) {
      const file = cacheOf(line);
      expect(() => readIrsCache(file)).toThrow(`${file}: not an IRS cache (expected format "arq-irs-cache" in the header)`);
    }
    const file = cacheOf(JSON.stringify({ format: 'arq-irs-cache', version: 2, settings }));
    expect(() => readIrsCache(file)).toThrow(`${file}: IRS cache version 2 is not supported (expected 1)`);
  });

  test('a header line that is not JSON; a file holding part of its header', () => {
    const file = cacheOf('{"format":');
    expect(() => readIrsCache(file)).toThrow(`${file}: not an IRS cache (line 1 is not a JSON header)`);
    writeFileSync(file, header(settings));
    expect(() => readIrsCache(file)).toThrow(`IRS cache ${file} has no complete header line (truncated)`);
  });

  test('a truncated record names its line; a duplicate names the second', () => {
    const file = fresh();
    writeFileSync(file, `${header(settings)}\n${record(good)}\n${record(good).slice(0, 30)}`);
    expect(() => readIrsCache(file)).toThrow(`${file}: the last record (line 3) is truncated`);
    const twice = cacheOf(header(settings), record({ ...good, idx: 1 }), record(good), record(good));
    expect(() => readIrsCache(twice)).toThrow(`${twice} line 4: image 5 appears twice`);
  });
});

describe('the writer', () => {
  test('refuses a wrong number of predictions, rows after close, and a path it cannot create', () => {
    const file = fresh();
    const w = IrsCacheWriter.open(file, settings);
    const entry = { ...good, predictions: new Uint8Array([1, 1, 0]) };
    expect(() => w.append({ ...entry, predictions: new Uint8Array(4) })).toThrow('IRS cache: image 5 has 4 predictions, expected n = 3');
    w.append(entry);
    w.close();
    w.close();
    expect(() => w.append(entry)).toThrow(`IRS cache ${file} is closed`);
    expect(readFileSync(file, 'utf8')).toBe(`${header(settings)}\n${record(good)}\n`);
    const nowhere = path.join(dir, 'missing', 'x.irs');
    expect(() => IrsCacheWriter.open(nowhere, settings)).toThrow(`cannot write IRS cache ${nowhere}: ENOENT`);
    expect(() => IrsCacheWriter.open(fresh(), { ...settings, n: 0 })).toThrow('IRS cache settings: header setting n must be a positive integer, got 0');
  });

  test('resuming: a truncated last record is cut away; a setting only one side has is a difference', () => {
    const file = fresh();
    writeFileSync(file, `${header(settings)}\n${record(good)}\n${record({ ...good, idx: 6 }).slice(0, 30)}`);
    const w = IrsCacheWriter.open(file, settings, { resume: true });
    expect([...w.existing]).toEqual([5]);
    w.close();
    expect(readFileSync(file, 'utf8')).toBe(`${header(settings)}\n${record(good)}\n`);
    expect(() => IrsCacheWriter.open(file, { ...settings, policy: 'w4a4' }, { resume: true })).toThrow(`cannot resume IRS cache ${file}: it was written with different settings: policy null (now "w4a4")`);
    writeFileSync(file, `${header({ ...settings, batch: 8 })}\n`);
    expect(() => IrsCacheWriter.open(file, settings, { resume: true })).toThrow('it was written with different settings: batch 8 (now null)');
  });

  test('resuming a file cut inside its header starts it afresh', () => {
    const file = fresh();
    writeFileSync(file, header(settings).slice(0, 25));
    const w = IrsCacheWriter.open(file, settings, { resume: true });
    expect([...w.existing]).toEqual([]);
    w.close();
    expect(readFileSync(file, 'utf8')).toBe(`${header(settings)}\n`);
  });
});
