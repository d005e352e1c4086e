/**
 * Throughput of several engines on one machine, measured so that neither order nor machine noise favours one:
 * warm-up, then rounds in which each engine in turn (in rotating order) runs enough batches to last `minMs`, a pause
 * before each (ONNX Runtime's intra-op threads spin for a while after a run and would take cores from the next
 * engine on a small machine), and the median round per engine. The benchmarks (bench/) and the measured cost of a
 * policy (quant/time.ts) share it.
 */
export type Run = (images: Float32Array, batch: number) => Promise<Float32Array>;

export interface Engine {
  readonly label: string;
  readonly run: Run;
  readonly close?: () => Promise<void>;
}

const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 30));

/** Images/second of every engine on `batch` images: the median of `repeats` interleaved rounds of >= `minMs`. */
export async function interleavedRates(engines: readonly Engine[], images: Float32Array, batch: number, repeats: number, minMs: number): Promise<number[]> {
  return (await interleavedSamples(engines, images, batch, repeats, minMs)).map(median);
}

/** The median of a list of numbers (the upper one of an even count). */
export function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

/**
 * Images/second of every engine in each of `repeats` interleaved rounds of >= `minMs` (samples[engine][round]): two
 * engines' rates in the same round were measured seconds apart, so their ratio per round shows how far the machine's
 * drift moves a ratio. `signal` is checked before every engine's turn.
 */
export async function interleavedSamples(engines: readonly Engine[], images: Float32Array, batch: number, repeats: number, minMs: number, signal?: AbortSignal): Promise<number[][]> {
  const calls: number[] = [];
  for (const engine of engines) {
    signal?.throwIfAborted();
    await engine.run(images, batch);
    await engine.run(images, batch);
    await settle();
    const start = performance.now();
    await engine.run(images, batch);
    calls.push(Math.max(1, Math.ceil(minMs / Math.max(performance.now() - start, 1e-3))));
  }
  const samples: number[][] = engines.map(() => []);
  for (let round = 0; round < repeats; round++) {
    for (let step = 0; step < engines.length; step++) {
      const e = (step + round) % engines.length; // rotate the order: no engine always follows the same one
      signal?.throwIfAborted();
      await settle();
      const start = performance.now();
      for (let k = 0; k < calls[e]; k++) await engines[e].run(images, batch);
      samples[e].push((calls[e] * batch) / ((performance.now() - start) / 1000));
    }
  }
  return samples;
}
