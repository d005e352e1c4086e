/**
 * Integer kernel throughput on one thread: the measured int8 dot-product peak per ISA level, the bound the sub-byte
 * families (bit-serial popcount, table lookup) put on W2A2..W4A8 against it (AVX-512) and the table-lookup kernel's
 * measured rate against qgemm on ResNet-20's shapes (AVX-512 VBMI and AVX2), then qu8-qs8-gemm
 * GOPS (2 operations per multiply-add) and fraction of that peak for compute-bound shapes at 8-, 4- and 2-bit
 * weights, and a memory-bound shape (M = 8) with weights hot in cache and streamed from memory (several weight
 * sets in turn, larger than the last-level cache), to show what packed sub-byte weights save.
 *
 *   npm run bench -- kernels [--isa scalar,avx2,avx512vnni] [--seconds 1] [--repeats 10] [--sections lowbit,qgemm]
 *
 * Each figure is the best of `repeats` timed runs sharing about `seconds` (other processes on the machine only ever
 * slow a run down). Timing loops run inside C++ on internal pseudo-random data (_kernelTiming.qgemmTime / dotPeak).
 */
import { parseArgs } from 'node:util';
import { cpuInfo, ISA_LEVELS, kernelTiming, qu8Kernels, type IsaName, type LowbitFamily } from '../src/native.js';
import { lutAndInt8 } from './support/lookup.js';

const q = qu8Kernels();
const timing = kernelTiming();

const { values } = parseArgs({
  options: {
    isa: { type: 'string', default: 'scalar,avx2,avx512vnni' },
    seconds: { type: 'string', default: '1' },
    repeats: { type: 'string', default: '10' },
    sections: { type: 'string', default: 'lowbit,qgemm' },
  },
});
const seconds = Number(values.seconds);
const sections = new Set(values.sections.split(',').map((x) => x.trim()));
for (const section of sections) if (section !== 'lowbit' && section !== 'qgemm') throw new Error(`unknown section '${section}'`);
const repeats = Number(values.repeats);
const LEVELS: readonly IsaName[] = ISA_LEVELS;
const cpu = cpuInfo();
const detected = LEVELS.indexOf(cpu.detected);
const isas = values.isa.split(',').map((s) => s.trim() as IsaName).filter((isa) => {
  if (!LEVELS.includes(isa)) throw new Error(`unknown ISA level '${isa}'`);
  if (LEVELS.indexOf(isa) > detected) {
    console.log(`${isa}: not supported by this CPU, skipped`);
    return false;
  }
  return true;
});

/** Best operations per second of qgemm on this shape over `repeats` runs of about `seconds / repeats` each. */
function gemmRate(isa: IsaName, m: number, n: number, k: number, wbits: number, copies = 1): number {
  const once = timing.qgemmTime(isa, m, n, k, wbits, copies, copies) / copies;
  const iterations = Math.max(copies, Math.ceil(seconds / repeats / Math.max(once, 1e-7)));
  return (2 * m * n * k * iterations) / timing.qgemmTime(isa, m, n, k, wbits, iterations, copies, repeats);
}

const fmt = (x: number, digits = 1) => x.toFixed(digits);
const pad = (s: string, width: number) => s.padStart(width);

console.log(`CPU: ${cpu.detected} detected, 1 thread`);
console.log('\nint8 dot-product peak (register-resident loop; one u8 x s8 multiply-add = 2 ops)');
const peaks = new Map<IsaName, number>();
for (const isa of isas) {
  const peak = timing.dotPeak(isa, seconds);  // best of many short rounds (timing_bind.cc)
  peaks.set(isa, peak);
  console.log(`  ${pad(isa, 10)}  ${pad(fmt(peak / 1e9), 8)} GOPS   (${q.names(isa).gemm})`);
}

// The bound a sub-byte kernel family puts on low widths (kernels/qu8-qs8-gemm/peak.h): its inner step's measured
// rate in bit-plane products per second, divided by the products one W_w A_a multiply-add costs, against vpdpbusd's
// multiply-adds per second. Real kernels add loads, activation packing, widening and the epilogue to each side.
if (sections.has('lowbit') && isas.includes('avx512vnni')) {
  const families = timing.lowbitFamilies();
  const int8Macs = timing.dotPeak('avx512vnni', seconds) / 2;
  const plane = new Map(families.map((f) => [f, timing.lowbitPeak(f, seconds)] as const));
  console.log('\nSub-byte families: the bound of each inner step against vpdpbusd (avx512vnni, 1 thread, register-resident)');
  console.log(`  int8 vpdpbusd: ${fmt(int8Macs / 1e9)} G multiply-adds/s (64 per instruction at any width up to 8)`);
  for (const f of families) {
    const step = f === 'bitserial' ? 'vpandq + vpopcntq + vpaddq, 512' : 'vpermb + vpaddb, 384';
    console.log(`  ${f}: ${fmt(plane.get(f)! / 1e9)} G bit-plane products/s (${step} per step)`);
  }
  for (const f of ['bitserial', 'lut'] as const) {
    if (!families.includes(f)) console.log(`  ${f}: not supported by this CPU (needs AVX-512 ${f === 'lut' ? 'VBMI' : 'VPOPCNTDQ'})`);
  }
  // Products per multiply-add: bit-serial pairs every weight plane with every activation plane; a table holds the
  // sums of up to 4-bit codes of one operand (weights, offline, or activations, at run time) indexed by the other's
  // bit planes, so its cost is the narrower operand's plane count.
  const cost = (f: LowbitFamily, w: number, a: number): number | undefined => {
    if (f === 'bitserial') return w * a;
    const cheapest = Math.min(w <= 4 ? a : Infinity, a <= 4 ? w : Infinity);
    return Number.isFinite(cheapest) ? cheapest : undefined;
  };
  console.log(`  ${pad('widths', 6)}  ${families.map((f) => pad(`${f} G MAC/s (x int8)`, 28)).join('  ')}`);
  for (const [w, a] of [[2, 2], [2, 4], [4, 2], [3, 3], [4, 4], [2, 8], [4, 8]]) {
    const cells = families.map((f) => {
      const c = cost(f, w, a);
      if (c === undefined) return pad('-', 28);
      const macs = plane.get(f)! / c;
      return pad(`${fmt(macs / 1e9)} (${fmt(macs / int8Macs, 2)}x)`, 28);
    });
    console.log(`  ${pad(`W${w}A${a}`, 6)}  ${cells.join('  ')}`);
  }
}

// The table-lookup family as a whole kernel (lutgemm: lookups, widening, requantization, transposition into rows)
// against qgemm at the same ISA level on the same shapes and weight widths: ResNet-20's three 3x3 stages as GEMMs
// (M = 1024 output pixels, N = channels, K = 9 x channels), at avx512vnni (the VBMI kernel where the CPU has VBMI)
// and avx2 (the vpshufb kernel). "lut" has the activations packed into index bytes before the timing; "+pack" packs
// them in every call, from row pointers, as the integer plan's lookup layers do (native/engine/lut_dispatch.cc's
// table compares that with int8).
const lutLevels = isas.filter((isa) => isa !== 'scalar');
if (sections.has('lowbit') && lutLevels.length > 0) {
  const pairs: [number, number][] = [[2, 2], [4, 2], [2, 4], [3, 3], [4, 4]];
  for (const isa of lutLevels) {
    console.log(`\nlutgemm (${q.names(isa).lutgemm}) against qgemm at ${isa}: G MAC/s and the ratios on the same shape`);
    console.log(`  ${pad('M x N x K', 14)}  ${pairs.map(([w, a]) => pad(`W${w}A${a} lut / +pack / int8`, 36)).join('  ')}`);
    for (const [m, n, k] of [[1024, 16, 144], [1024, 32, 288], [1024, 64, 576]]) {
      const cells = pairs.map(([w, a]) => {
        const { lut, lutPack, int8 } = lutAndInt8(isa, m, n, k, w, a, seconds, repeats);
        return pad(`${fmt(lut, 0)} / ${fmt(lutPack, 0)} / ${fmt(int8, 0)} (${fmt(lut / int8, 2)}x, ${fmt(lutPack / int8, 2)}x)`, 36);
      });
      console.log(`  ${pad(`${m}x${n}x${k}`, 14)}  ${cells.join('  ')}`);
    }
  }
}

if (sections.has('qgemm')) {
  const computeShapes: [string, number, number, number][] = [
    ['large, square-ish', 4096, 256, 2304],
    ['ResNet-20 conv (M = batch*HW)', 1024, 64, 576],
  ];
  console.log('\nqgemm, compute-bound shapes: GOPS (fraction of that ISA\'s peak)');
  console.log(`  ${pad('isa', 10)}  ${pad('M x N x K', 18)}  ${pad('w8', 16)}  ${pad('w4', 16)}  ${pad('w2', 16)}`);
  for (const isa of isas) {
    for (const [label, m, n, k] of computeShapes) {
      if (isa === 'scalar' && 2 * m * n * k > 1e9) {
        console.log(`  ${pad(isa, 10)}  ${pad(`${m}x${n}x${k}`, 18)}  (skipped on scalar: too slow)`);
        continue;
      }
      const cells = [8, 4, 2].map((wbits) => {
        const rate = gemmRate(isa, m, n, k, wbits);
        return pad(`${fmt(rate / 1e9)} (${fmt((100 * rate) / peaks.get(isa)!, 0)}%)`, 16);
      });
      console.log(`  ${pad(isa, 10)}  ${pad(`${m}x${n}x${k}`, 18)}  ${cells.join('  ')}   ${label}`);
    }
  }

  // Memory-bound: M = 8 rows against 4096 x 4096 weights. "hot": one weight set (16 MiB at 8 bits, which fits a
  // 32 MiB L3); "streamed": 8 sets used in turn (128 / 64 / 32 MiB at 8 / 4 / 2 bits), as a network's layers are.
  const [mm, mn, mk] = [8, 4096, 4096];
  const copies = 8;
  console.log(`\nqgemm, memory-bound M=${mm} N=${mn} K=${mk}: GOPS and packed-weight bandwidth (GB/s)`);
  console.log(`  ${pad('isa', 10)}  ${pad('weights', 9)}  ${pad('w8', 18)}  ${pad('w4', 18)}  ${pad('w2', 18)}`);
  for (const isa of isas) {
    if (isa === 'scalar') {
      console.log(`  ${pad(isa, 10)}  (skipped on scalar: compute-bound at any width)`);
      continue;
    }
    for (const [label, sets] of [['hot', 1], ['streamed', copies]] as [string, number][]) {
      const cells = [8, 4, 2].map((wbits) => {
        const rate = gemmRate(isa, mm, mn, mk, wbits, sets);
        const bytes = (mn * mk * (wbits >= 5 ? 8 : wbits >= 3 ? 4 : 2)) / 8;
        const perSecond = rate / (2 * mm * mn * mk);
        return pad(`${fmt(rate / 1e9)} (${fmt((bytes * perSecond) / 1e9, 0)} GB/s)`, 18);
      });
      console.log(`  ${pad(isa, 10)}  ${pad(label, 9)}  ${cells.join('  ')}`);
    }
  }
  console.log('\nSub-byte weights are read in their packed form (2 or 4 per byte): on AVX-512 VNNI expanded in registers,');
  console.log('elsewhere unpacked panel by panel into scratch; the results are identical to 8-bit storage of the same codes.');
}
