// The sub-byte families' inner-step loops of _kernelTiming (kernels/qu8-qs8-gemm/peak.h), which bench/kernels.ts turns
// into the bound those families put on low widths: which families run follows the CPU's flags, each runs and reports
// a positive rate, and arguments are validated.
import { readFileSync } from 'node:fs';

import { describe, expect, test } from 'vitest';

import { cpuInfo, kernelTiming, type LowbitFamily } from '../../src/native.js';

const timing = kernelTiming();

/** The CPU flags Linux reports, or undefined elsewhere. */
function cpuFlags(): Set<string> | undefined {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    return line === undefined ? undefined : new Set(line.split(':')[1].trim().split(/\s+/));
  } catch {
    return undefined;
  }
}

describe('_kernelTiming.lowbitFamilies / lowbitPeak', () => {
  const families = timing.lowbitFamilies();

  test('the families listed are those whose extension the CPU has (AVX-512 VNNI level only)', () => {
    const flags = cpuFlags();
    if (flags === undefined) return;
    const vnni = cpuInfo().detected === 'avx512vnni';
    const expected: LowbitFamily[] = [];
    if (vnni && flags.has('avx512_vpopcntdq')) expected.push('bitserial');
    if (vnni && flags.has('avx512vbmi')) expected.push('lut');
    expect(families).toEqual(expected);
  });

  test.each(['bitserial', 'lut'] as const)('%s runs where supported and is refused elsewhere', (family) => {
    if (families.includes(family)) {
      expect(timing.lowbitPeak(family, 0.01)).toBeGreaterThan(0);
    } else {
      expect(() => timing.lowbitPeak(family, 0.01)).toThrow(/not supported by this CPU/);
    }
  });

  test('arguments are validated', () => {
    expect(() => timing.lowbitPeak('popcnt' as LowbitFamily, 0.01)).toThrow(RangeError);
    expect(() => timing.lowbitPeak('popcnt' as LowbitFamily, 0.01)).toThrow(/family must be bitserial or lut/);
    expect(() => timing.lowbitPeak(1 as unknown as LowbitFamily, 0.01)).toThrow(TypeError);
    for (const family of families) {
      expect(() => timing.lowbitPeak(family, 0)).toThrow(/seconds must be in \(0, 60\]/);
      expect(() => timing.lowbitPeak(family, Number.NaN)).toThrow(RangeError);
    }
    expect(() => (timing.lowbitPeak as (f: LowbitFamily) => number)('lut')).toThrow(/expected 2 arguments/);
  });
});
