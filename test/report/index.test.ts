import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeReport } from '../../src/report/index.js';
import { sampleReport } from './sample-report.js';

describe('writeReport', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('writes report.json and report.html into a new directory, leaving no temporary file', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'arq-report-'));
    dirs.push(root);
    const dir = path.join(root, 'run');
    const report = sampleReport({ episodes: 10, images: 30 });
    const written = await writeReport(dir, report);
    expect(written).toEqual({ json: path.join(dir, 'report.json'), html: path.join(dir, 'report.html') });
    expect(JSON.parse(await readFile(written.json, 'utf8'))).toEqual(report);
    expect(await readFile(written.html, 'utf8')).toMatch(/^<!DOCTYPE html>/);
    expect((await readdir(dir)).sort()).toEqual(['report.html', 'report.json']);

    // A second write replaces both files in place.
    await writeReport(dir, { ...report, sigma: 0.25 });
    expect(JSON.parse(await readFile(written.json, 'utf8')).sigma).toBe(0.25);
    expect((await readdir(dir)).sort()).toEqual(['report.html', 'report.json']);
  });
});
