// The results file's edges (smoothing/results.ts): each malformed field refused with its own message, the limits that
// are allowed (time 0, radius 0), an unreadable or unwritable path, a writer used after close, a resume of a file
// cut inside its header, the summary's radius list and names beside other extensions.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  averageCertifiedRadius, certifiedAccuracy, formatSummary, parseResultRow, RESULT_HEADER, ResultsWriter, readResults, settingsPath, summarize, summaryPath, summaryRadii,
} from '../../src/smoothing/results.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-results-edges-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const fresh = (name: string): string => path.join(dir, `${files++}-${name}`);
const row = { idx: 3, label: 1, predict: 1, radius: 0.5, correct: true, time: 0.25 };

describe('a results line', () => {
  test.each([
    ['3\t1\t1\t \t1\t0.25', 'radius is not a number: " "'],
    ['3\t1\t1\t\t1\t0.25', 'radius is not a number: ""'],
    ['3\t1\t1\tInfinity\t1\t0.25', 'radius is not a number: "Infinity"'],
    ['3.5\t1\t1\t0.5\t1\t0.25', 'idx must be an integer >= 0, got 3.5'],
    ['-1\t1\t1\t0.5\t1\t0.25', 'idx must be an integer >= 0, got -1'],
    ['3\t1\t-2\t0.5\t0\t0.25', 'predict must be an integer >= -1, got -2'],
    ['3\t1\t1\t0.5\t2\t0.25', 'correct must be 0 or 1, got 2'],
    ['3\t1\t1\t-0.5\t1\t0.25', 'radius must be >= 0, got -0.5'],
    ['3\t1\t1\t0.5\t1\t-1', 'time must be >= 0, got -1'],
  ])('%j is refused: %s', (line, message) => {
    expect(() => parseResultRow(line, 'f line 2')).toThrow(`f line 2: ${message}`);
  });

  test('time 0, radius 0 and an abstention are allowed', () => {
    expect(parseResultRow('3\t1\t1\t0\t1\t0', 'x')).toEqual({ ...row, radius: 0, time: 0 });
    expect(parseResultRow('3\t1\t-1\t0\t0\t0.25', 'x')).toEqual({ ...row, predict: -1, radius: 0, correct: false });
    expect(parseResultRow('3\t2\t1\t0.5\t0\t0.25', 'x').correct).toBe(false);
  });
});

describe('results files', () => {
  test('a missing file, a directory that does not exist, a file that is not a results file', () => {
    const missing = path.join(dir, 'missing.tsv');
    expect(() => readResults(missing)).toThrow(`cannot read results ${missing}: ENOENT`);
    const nowhere = path.join(dir, 'no-such-dir', 'x.tsv');
    expect(() => ResultsWriter.open(nowhere)).toThrow(`cannot write results ${nowhere}: ENOENT`);
    // Text without a newline that cannot be the start of the header, and a long first line cut to 80 characters.
    const file = fresh('other.tsv');
    writeFileSync(file, 'hello');
    expect(() => readResults(file)).toThrow(`${file}: not an arq results file (expected the header ${JSON.stringify(RESULT_HEADER)})`);
    writeFileSync(file, `${'x'.repeat(200)}\n`);
    expect(() => readResults(file)).toThrow(`${file}: not an arq results file: line 1 is "${'x'.repeat(80)}", expected`);
  });

  test('without resume an existing file is replaced; a resumed file cut inside its header starts afresh', () => {
    const file = fresh('replace.tsv');
    writeFileSync(file, `${RESULT_HEADER}\n3\t1\t1\t0.5\t1\t0.2500\n`);
    const replaced = ResultsWriter.open(file);
    expect(replaced.existing).toEqual([]);
    replaced.close();
    expect(readFileSync(file, 'utf8')).toBe(`${RESULT_HEADER}\n`);
    writeFileSync(file, 'idx\tla');
    const resumed = ResultsWriter.open(file, { resume: true });
    resumed.append(row);
    resumed.close();
    expect(readFileSync(file, 'utf8')).toBe(`${RESULT_HEADER}\n3\t1\t1\t0.5\t1\t0.2500\n`);
  });

  test('a closed writer refuses rows; closing twice is harmless', () => {
    const file = fresh('closed.tsv');
    const w = ResultsWriter.open(file);
    w.append(row);
    w.close();
    w.close();
    expect(() => w.append(row)).toThrow(`results ${file} are closed`);
    expect(readResults(file).rows).toEqual([row]);
  });
});

describe('the summary', () => {
  test('summary and settings names replace only a final .tsv, whatever its case', () => {
    expect(summaryPath('a.tsv.old')).toBe('a.tsv.old.summary.json');
    expect(settingsPath('a.tsv.old')).toBe('a.tsv.old.settings.json');
    expect(summaryPath('A.TSV')).toBe('A.summary.json');
  });

  test('the radii: the grid and the extra ones, ascending, each once; a bad radius is refused', () => {
    expect(summaryRadii([10, 3, 0.3, 0.5, 0])).toEqual([0, 0.25, 0.3, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 3, 10]);
    for (const bad of [-0.25, Number.NaN, Infinity, '1' as unknown as number]) {
      expect(() => summaryRadii([bad])).toThrow(`radii: expected finite numbers >= 0, got ${bad}`);
    }
  });

  test('no rows: every figure 0, and a summary without radii is still JSON', () => {
    expect(certifiedAccuracy([], 0)).toBe(0);
    expect(averageCertifiedRadius([])).toBe(0);
    const s = summarize([], { samples: 0, settings: {} });
    const text = formatSummary({ ...s, certified_accuracy: {} });
    expect(JSON.parse(text).certified_accuracy).toEqual({});
  });
});
