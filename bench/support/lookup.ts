/**
 * The measurements of the table-lookup GEMM (native/kernels/qu8-qs8-lutgemm) against the int8 path that `bench
 * kernels`, `bench profile --lookup` and `bench layers --lookup` share: the two kernels alone on one GEMM shape, and
 * a network's plans profiled in alternating rounds.
 */
import type { IntPlan } from '../../src/engine/int-plan.js';
import { kernelTiming, type IsaName } from '../../src/native.js';

/** G multiply-adds per second (one thread) of the lookup GEMM on prepacked index bytes, of the same with the packing. */
export interface LutAndInt8 {
  readonly lut: number;
  /** The lookup GEMM with its activations packed into index bytes in every call, as the plan's lookup layers run. */
  readonly lutPack: number;
  /** qgemm, the int8 GEMM of the same ISA level, on the same shape and weight width. */
  readonly int8: number;
}

/**
 * Both kernels' best multiply-adds per second at `isa` over alternating runs of about 2 ms each for about `seconds`
 * and at least `repeats` rounds (short runs, so the best of each fits within one time slice of a shared machine;
 * alternating, so a load change moves both).
 */
export function lutAndInt8(isa: IsaName, m: number, n: number, k: number, wbits: number, abits: number, seconds: number, repeats: number): LutAndInt8 {
  const timing = kernelTiming();
  const macs = m * n * k;
  const iterationsFor = (once: number) => Math.max(1, Math.round(2e-3 / Math.max(once, 1e-7)));
  const lutIterations = iterationsFor(timing.lutgemmTime(isa, m, n, k, wbits, abits, 1));
  const packIterations = iterationsFor(timing.lutgemmTime(isa, m, n, k, wbits, abits, 1, 1, true));
  const int8Iterations = iterationsFor(timing.qgemmTime(isa, m, n, k, wbits, 1));
  let lut = Infinity;
  let lutPack = Infinity;
  let int8 = Infinity;
  const start = performance.now();
  for (let r = 0; r < repeats || performance.now() - start < seconds * 1000; r++) {
    lut = Math.min(lut, timing.lutgemmTime(isa, m, n, k, wbits, abits, lutIterations) / lutIterations);
    lutPack = Math.min(lutPack, timing.lutgemmTime(isa, m, n, k, wbits, abits, packIterations, 1, true) / packIterations);
    int8 = Math.min(int8, timing.qgemmTime(isa, m, n, k, wbits, int8Iterations) / int8Iterations);
  }
  return { lut: macs / lut / 1e9, lutPack: macs / lutPack / 1e9, int8: macs / int8 / 1e9 };
}

/**
 * Thread-seconds per step (IntPlan.profile) of each of `plans` on `images` over rounds that alternate the plans for
 * `seconds` (at least 2 rounds), after one warm-up run each; `steps` = the spec's ops + 2. totals: summed over the
 * rounds; best: each step's least time in any round (on a shared machine a preempted thread's step only grows, so
 * the least is the step's own cost, as a best-of timing is).
 */
export async function alternatingProfiles(plans: readonly IntPlan[], images: Float32Array, batch: number, threads: number, seconds: number, steps: number): Promise<{ totals: Float64Array[]; best: Float64Array[]; batches: number }> {
  for (const plan of plans) await plan.run(images, batch, threads);
  const totals = plans.map(() => new Float64Array(steps));
  const best = plans.map(() => new Float64Array(steps).fill(Infinity));
  let batches = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000 || batches < 2) {
    for (const [i, plan] of plans.entries()) {
      (await plan.profile(images, batch, threads)).forEach((s, j) => {
        totals[i][j] += s;
        best[i][j] = Math.min(best[i][j], s);
      });
    }
    batches++;
  }
  return { totals, best, batches };
}
