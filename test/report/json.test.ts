import { describe, expect, it } from 'vitest';
import { formatReportJson } from '../../src/report/json.js';
import { sampleReport } from './sample-report.js';

describe('formatReportJson', () => {
  it('round-trips the report and keeps radii and small records on one line', () => {
    const report = sampleReport({ episodes: 8, images: 50 });
    const text = formatReportJson(report);
    expect(JSON.parse(text)).toEqual(report);
    expect(text.endsWith('}\n')).toBe(true);
    const radiiLines = text.split('\n').filter((line) => line.includes('"certified_radii"'));
    expect(radiiLines).toHaveLength(6);
    for (const line of radiiLines) expect(JSON.parse(`{${line.trim().replace(/,$/, '')}}`).certified_radii).toHaveLength(50);
    expect(text).toContain('{"name":"/conv1/Conv","wbits":8,"abits":8}');
    expect(text).toMatch(/^ {2}"float": \{$/m);
  });

  it('follows JSON rules for undefined, NaN and empty containers', () => {
    const text = formatReportJson({ a: undefined, b: NaN, c: [], d: {}, e: [undefined, 1], f: [{ g: [{}] }] });
    expect(JSON.parse(text)).toEqual({ b: null, c: [], d: {}, e: [null, 1], f: [{ g: [{}] }] });
  });
});
