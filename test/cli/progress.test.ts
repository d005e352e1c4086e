// untilInterrupted: Ctrl-C (SIGINT) aborts a command's work with the command's own error, and leaves no handler.
import { expect, it } from 'vitest';
import { untilInterrupted } from '../../src/cli/progress.js';

const interrupted = () => new Error('interrupted; rerun with --resume');

/** Work that runs until its signal aborts, then rejects with an error of its own. */
const untilAborted = (signal: AbortSignal) => new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted inside'))));

it('SIGINT aborts the work, which fails with the interruption error, and the handler is gone afterwards', async () => {
  const before = process.listenerCount('SIGINT');
  const running = untilInterrupted(interrupted, untilAborted);
  expect(process.listenerCount('SIGINT')).toBe(before + 1);
  process.emit('SIGINT');
  await expect(running).rejects.toThrow('interrupted; rerun with --resume');
  expect(process.listenerCount('SIGINT')).toBe(before);
});

it('without SIGINT the work settles as it would alone, and the handler is removed either way', async () => {
  const before = process.listenerCount('SIGINT');
  await expect(untilInterrupted(interrupted, async () => 42)).resolves.toBe(42);
  await expect(untilInterrupted(interrupted, () => Promise.reject(new Error('bad data')))).rejects.toThrow('bad data');
  expect(process.listenerCount('SIGINT')).toBe(before);
});
