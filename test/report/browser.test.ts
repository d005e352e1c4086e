// Renders report.html in a real headless browser (Debian's chromium): the DOM it builds must hold the four charts
// with their series, and a screenshot must come out. Skipped where /usr/bin/chromium is absent. Set
// ARQ_REPORT_SCREENSHOT=/path.png to keep the screenshot for a look.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeReport } from '../../src/report/index.js';
import { sampleReport } from './sample-report.js';

const CHROMIUM = '/usr/bin/chromium';
const run = promisify(execFile);

describe.skipIf(!existsSync(CHROMIUM))('report.html in headless chromium', () => {
  let dir = '';
  let url = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'arq-report-browser-'));
    url = pathToFileURL((await writeReport(dir, sampleReport())).html).href;
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** One chromium run with a fresh profile and no network activity of its own; resolves to its stdout. */
  async function chromium(...args: string[]): Promise<string> {
    const profile = await mkdtemp(path.join(dir, 'profile-'));
    const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
    try {
      const { stdout } = await run(CHROMIUM, [...flags, `--user-data-dir=${profile}`, ...args, url], { timeout: 15_000, maxBuffer: 64 << 20 });
      return stdout;
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  }

  it('builds a DOM with the four charts and their series', { timeout: 20_000 }, async () => {
    const dom = await chromium('--dump-dom');
    const svgs = dom.match(/<svg[\s>][\s\S]*?<\/svg>/g) ?? [];
    const byId = new Map(svgs.map((svg) => [/data-chart="([^"]+)"/.exec(svg)?.[1], svg]));
    expect([...byId.keys()]).toEqual(['radius', 'bits', 'reward', 'bitops-acr']);
    const series = (id: string) => new Set([...byId.get(id)!.matchAll(/data-series="([^"]*)"/g)].map((m) => m[1]));
    for (const name of ['ARQ', 'HAQ', 'random search']) expect(series('reward').has(`${name} best`)).toBe(true);
    expect(series('bitops-acr').has('Pareto front')).toBe(true);
    expect(series('radius')).toEqual(new Set(['float', 'ARQ', 'HAQ', 'random search', 'uniform W4A4', 'W8A8']));
    expect(series('bits')).toEqual(new Set(['weight bits', 'activation bits']));
    expect(dom).toMatch(/data-entry="w8a8"/);
  });

  it('renders a screenshot', { timeout: 20_000 }, async () => {
    const png = path.join(dir, 'report.png');
    await chromium(`--screenshot=${png}`, '--window-size=1280,3000');
    const bytes = await readFile(png);
    expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
    // IHDR: width and height, big-endian, at bytes 16..23.
    expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).toEqual([1280, 3000]);
    // A blank page compresses to a few KB; charts, tables and text take far more.
    expect(bytes.length).toBeGreaterThan(100_000);
    if (process.env.ARQ_REPORT_SCREENSHOT) await copyFile(png, process.env.ARQ_REPORT_SCREENSHOT);
  });
});
