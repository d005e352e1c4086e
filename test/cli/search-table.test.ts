// The final table `arq search` prints: its measured-time columns and the line that says how they were measured.
import { describe, expect, it } from 'vitest';
import { finalTable, timeLine } from '../../src/cli/search-table.js';
import type { SearchReport } from '../../src/report/types.js';
import { sampleReport } from '../report/sample-report.js';

const base = sampleReport({ episodes: 10, images: 20 });
const measured = (seconds: number, ratio: number) => ({
  engine: 'int' as const, kernels: 'qu8_qs8_gemm_ukernel_8x32c4__avx512vnni', seconds_per_image: seconds, seconds_per_image_range: [0.9 * seconds, 1.1 * seconds] as const, time_vs_w8a8: ratio, time_vs_w8a8_range: [0.9 * ratio, 1.1 * ratio] as const,
});
const report: SearchReport = {
  ...base,
  time: { engine: 'int', isa: 'avx2', cpu: 'avx512vnni', batch: 400, threads: 2, repeats: 5, round_ms: 100, inputs: 'random', w8a8: measured(30e-6, 1) },
  arq: { ...base.arq!, time: measured(31.5e-6, 1.05) },
  w8a8: { ...base.w8a8!, time: measured(30e-6, 1) },
};

describe('arq search: the final table\'s measured time', () => {
  it('adds time per image and time over W8A8 per entry, a dash where an entry has none', () => {
    const lines = finalTable(report).split('\n');
    expect(lines[0]).toMatch(/ACR\/float +time\/image +time\/W8A8$/);
    expect(lines.find((l) => l.startsWith('ARQ'))).toMatch(/31\.5 µs +1\.05x$/);
    expect(lines.find((l) => l.startsWith('W8A8'))).toMatch(/30 µs +1\.00x$/);
    expect(lines.find((l) => l.startsWith('HAQ'))).toMatch(/ - +-$/);
    expect(finalTable(base).split('\n')[0]).toMatch(/ACR\/float$/);
  });

  it('says how the times were measured, and that BitOps is not time', () => {
    expect(timeLine(report)).toBe(
      'time per image on this CPU: integer engine (float: arq\'s fp32 plan), avx2, batch 400, 2 threads, median of 5 rounds; W8A8 30 µs; ' +
        'BitOps is a model of arithmetic, not time on this CPU: compare the BitOps and time columns',
    );
    expect(timeLine(base)).toBe('time: not measured');
  });
});
