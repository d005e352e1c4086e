/**
 * Long CLI work: progress bars, shown only on a terminal and never with --json or --quiet, and Ctrl-C as an abort
 * signal, so that an interrupted command stops between batches and keeps what it finished.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, total: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

const silent: Progress = { update() {}, stop() {} };

/** `fields` names payload entries shown after the rate (e.g. loss and accuracy while training). */
export function progressBar(label: string, options: { quiet?: boolean; json?: boolean }, fields: readonly string[] = []): Progress {
  if (options.quiet || options.json || !process.stderr.isTTY) return silent;
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} | {rate}${fields.map((f) => ` | ${f} {${f}}`).join('')} | ETA {eta_formatted}`, stream: process.stderr, hideCursor: true, etaBuffer: 20 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const begin = performance.now();
  return {
    update(done, total, payload = {}) {
      const rate = `${(done / Math.max(1e-9, (performance.now() - begin) / 1000)).toFixed(0)}/s`;
      if (!started) {
        bar.start(total, done, { rate, ...payload });
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(done, { rate, ...payload });
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/**
 * Runs `work` with a signal that the first SIGINT aborts with `interrupted()`, the error the command then fails with
 * (whatever the work rejected with after the abort); the handler is removed when the work settles.
 */
export async function untilInterrupted<T>(interrupted: () => Error, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const stop = (): void => controller.abort(interrupted());
  process.once('SIGINT', stop);
  try {
    return await work(controller.signal);
  } catch (error) {
    throw controller.signal.aborted ? (controller.signal.reason as Error) : error;
  } finally {
    process.removeListener('SIGINT', stop);
  }
}
