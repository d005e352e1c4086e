/**
 * Long synchronous loops over big buffers (decoding a dataset, checking its values) run in slices with a turn of the
 * event loop between them, so that no library call holds the JavaScript thread for long: timers, I/O and other
 * requests of the embedding server get their turn while a 60,000-image dataset decodes.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Elements one slice of a simple per-element loop handles: well under a millisecond of work on a quiet machine, so
 * a slice stays far below the 50 ms the event loop may be held even when the process gets a fraction of a core.
 */
export const ELEMENTS_PER_SLICE = 1 << 18;

/** Calls `work(start, end)` over [0, total) in slices of `size` elements, yielding to the event loop between them. */
export async function inSlices(total: number, size: number, work: (start: number, end: number) => void): Promise<void> {
  for (let start = 0; start < total; start += size) {
    if (start > 0) await nextTurn();
    work(start, Math.min(total, start + size));
  }
}
