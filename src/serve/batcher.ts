/**
 * Batching across requests: concurrent requests' sample draws are queued here and served by native calls that each
 * fill the engine's batches from several noise streams at once (native/certify sample_streams). A request too small
 * to fill a batch alone still runs at full-batch efficiency, and its counts are those an unbatched sampler gives
 * for the same stream, because the noise of a sample depends only on (seed, stream, sample number).
 *
 * Draws are served first come, first served, one native call at a time; a call takes at most `callSamples`
 * samples, so a cancelled draw (client gone, deadline passed) stops within one batch natively and leaves the queue
 * at once.
 */
import { cancelFlag, type NativeCancelFlag, type StreamSlice } from '../native.js';
import type { FloatPlan } from '../engine/float-plan.js';
import type { IntPlan } from '../engine/int-plan.js';
import type { Sampler } from '../smoothing/sampler.js';
import { seedWords } from '../smoothing/samplers.js';
import { ArqError } from '../util/errors.js';

export interface StreamBatcherOptions {
  readonly sigma: number;
  /** The noise key (see SamplerOptions.seed). */
  readonly seed: number | bigint;
  /** Noisy copies per classifier call. */
  readonly batch: number;
  readonly threads: number;
  /** Most samples one native call draws, over all its streams (a multiple of `batch` keeps batches full). */
  readonly callSamples: number;
}

interface Draw {
  readonly image: Float32Array;
  readonly imageIndex: number;
  readonly first: number;
  readonly count: number;
  readonly counts: Uint32Array;
  readonly cancel: NativeCancelFlag;
  /** Samples handed to native calls so far, and samples whose counts came back. */
  taken: number;
  drawn: number;
  settled: boolean;
  resolve(counts: Uint32Array): void;
  reject(error: unknown): void;
}

export class StreamBatcher {
  private readonly queue: Draw[] = [];
  private busy = false;
  private readonly seed: { seedHi: number; seedLo: number };
  private waitingSamples = 0;
  private rate = 0;
  /** Called after each native call with the samples it drew and its seconds. */
  onCall?: (samples: number, seconds: number) => void;

  constructor(private readonly plan: FloatPlan | IntPlan, readonly inputSize: number, private readonly options: StreamBatcherOptions) {
    this.seed = seedWords(options.seed);
  }

  get classes(): number {
    return this.plan.classes;
  }

  /** Samples queued and not yet drawn, over all pending draws. */
  get queuedSamples(): number {
    return this.waitingSamples;
  }

  /** Samples per second of the latest native calls (0 before the first). */
  get samplesPerSecond(): number {
    return this.rate;
  }

  /**
   * Class counts over samples first .. first+count-1 of stream `imageIndex`. An abort of `signal` cancels the
   * draw's remaining samples (natively, between batches) and rejects with the signal's reason.
   */
  draw(image: Float32Array, imageIndex: number, first: number, count: number, signal?: AbortSignal): Promise<Uint32Array> {
    if (image.length !== this.inputSize) return Promise.reject(new ArqError(`image: expected ${this.inputSize} values, got ${image.length}`));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (count === 0) return Promise.resolve(new Uint32Array(this.classes));
    return new Promise((resolve, reject) => {
      const draw: Draw = {
        image, imageIndex, first, count, counts: new Uint32Array(this.classes), cancel: cancelFlag(),
        taken: 0, drawn: 0, settled: false, resolve, reject,
      };
      this.queue.push(draw);
      this.waitingSamples += count;
      signal?.addEventListener('abort', () => this.settle(draw, signal.reason), { once: true });
      this.pump();
    });
  }

  /** A Sampler over this batcher for one request: certify.ts's PREDICT and CERTIFY run on it unchanged. */
  sampler(signal?: AbortSignal): Sampler {
    return {
      classes: this.classes,
      inputSize: this.inputSize,
      sigma: this.options.sigma,
      sample: async (image, imageIndex, first, count, record) => {
        if (record) throw new ArqError('the request batcher does not record predictions');
        return { counts: await this.draw(image, imageIndex, first, count, signal), predictions: null };
      },
      close: async () => {},
    };
  }

  /** Rejects every pending draw with `reason` (shutdown). */
  cancelAll(reason: unknown): void {
    for (const draw of [...this.queue]) this.settle(draw, reason);
  }

  private settle(draw: Draw, error?: unknown): void {
    if (draw.settled) return;
    draw.settled = true;
    const at = this.queue.indexOf(draw);
    if (at >= 0) this.queue.splice(at, 1);
    this.waitingSamples -= draw.count - draw.drawn;
    if (error === undefined) {
      draw.resolve(draw.counts);
    } else {
      draw.cancel.cancel();
      draw.reject(error);
    }
  }

  private pump(): void {
    if (this.busy || this.queue.length === 0) return;
    const parts: { draw: Draw; count: number }[] = [];
    const streams: StreamSlice[] = [];
    let room = this.options.callSamples;
    for (const draw of this.queue) {
      if (room === 0) break;
      const count = Math.min(room, draw.count - draw.taken);
      if (count === 0) continue;
      streams.push({ image: draw.image, imageIndex: draw.imageIndex, firstSample: draw.first + draw.taken, count, cancel: draw.cancel });
      parts.push({ draw, count });
      draw.taken += count;
      room -= count;
    }
    if (parts.length === 0) return;
    this.busy = true;
    const start = performance.now();
    const { sigma, batch, threads } = this.options;
    this.plan.sampleStreams({ streams, sigma, batch, threads, ...this.seed }).then(
      (results) => {
        let samples = 0;
        results.forEach((result, i) => {
          samples += result.drawn;
          const { draw } = parts[i];
          if (draw.settled) return;
          for (let c = 0; c < draw.counts.length; c++) draw.counts[c] += result.counts[c];
          draw.drawn += result.drawn;
          this.waitingSamples -= result.drawn;
          if (draw.drawn === draw.count) this.settle(draw);
        });
        const seconds = (performance.now() - start) / 1000;
        if (samples > 0 && seconds > 0) this.rate = this.rate === 0 ? samples / seconds : 0.8 * this.rate + 0.2 * (samples / seconds);
        this.onCall?.(samples, seconds);
      },
      (error: unknown) => {
        for (const { draw } of parts) this.settle(draw, error);
      },
    ).finally(() => {
      this.busy = false;
      this.pump();
    });
  }
}
