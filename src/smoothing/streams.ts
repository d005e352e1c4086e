/**
 * The noise streams of one noise key. A sample's noise is a function of (key, stream, sample number) only, so every
 * call or request that must get noise independent of the others takes a stream of its own, and a key has 2^32 of
 * them (the counter-based generator's image index). SmoothedClassifier and `arq serve` both hand them out here.
 */
import { integerInRange } from '../util/check.js';
import { ArqError } from '../util/errors.js';

/** Streams per noise key. */
export const STREAMS_PER_KEY = 2 ** 32;

export class NoiseStreams {
  private next: number;

  /**
   * `owner` and `remedy` complete the error once the key's streams are used up ("this server has used all 2^32 noise
   * streams of its key; restart it"); `first` is the first stream handed out (default 0).
   */
  constructor(private readonly owner: string, private readonly remedy: string, first = 0) {
    this.next = integerInRange('first', first, 0, STREAMS_PER_KEY);
  }

  /** The next unused stream; throws an ArqError when the key has none left. */
  take(): number {
    if (this.next >= STREAMS_PER_KEY) throw new ArqError(`${this.owner} has used all 2^32 noise streams of its key; ${this.remedy}`);
    return this.next++;
  }
}
