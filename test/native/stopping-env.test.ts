/**
 * A worker thread terminated while the addon works in it, or a process exiting under it, stops the environment:
 * Node-API calls then fail and no JavaScript exception can be thrown. The addon must not turn that into a C++
 * exception node cannot catch ("terminate called after throwing an instance of 'Napi::Error'", the whole process
 * aborted): node-addon-api swallows it when built with NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS (CMakeLists.txt).
 * Each case runs in a child node, so that an abort shows as its exit status and stderr rather than killing vitest's.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ADDON = path.join(ROOT, 'build/Release/arq.node');

// The worker keeps the addon busy and says so. 'sync': back-to-back quantizeWeights calls, each a clip search of a
// few milliseconds that allocates its result only at the end; V8 honours the stop only at its next interrupt check,
// tens of calls later, and every allocation until then fails. 'async': four plan runs always in flight, so a job
// completes (its promise to settle) after the stop.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const addon = require(workerData.addon);
if (workerData.mode === 'async') {
  const plan = new addon.FloatPlan({ input: [64, 64, 1], values: 2, output: 1, ops: [{ op: 'clamp', inputs: [0], output: 1, clamp: [0, 1] }] });
  const input = new Float32Array(4096 * 64);
  const again = () => plan.run(input, 64, 1).then(again);
  for (let i = 0; i < 4; i++) again();
  parentPort.postMessage('busy');
} else {
  const weight = new Float32Array(1 << 14).map((_, i) => Math.sin(i));
  parentPort.postMessage('busy');
  for (;;) addon.quantizeWeights(weight, 16, 4);
}`;

// `rounds` busy workers, each stopped by Worker.terminate() or, with 'exit', the process exiting under the last one.
const MAIN = `
const { Worker } = require('node:worker_threads');
const [addon, mode, stop, rounds] = process.argv.slice(1);
(async () => {
  for (let r = 0; r < Number(rounds); r++) {
    const worker = new Worker(process.env.ARQ_TEST_WORKER, { eval: true, workerData: { addon, mode } });
    await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
    if (stop === 'exit') { console.log('done'); process.exit(0); }
    const code = await worker.terminate();
    if (code !== 1) throw new Error('worker exit code ' + code);
  }
  console.log('done');
})();`;

function stopBusyWorkers(mode: 'sync' | 'async', stop: 'terminate' | 'exit', rounds: number) {
  const run = spawnSync(process.execPath, ['-e', MAIN, ADDON, mode, stop, String(rounds)], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ARQ_TEST_WORKER: WORKER },
  });
  return { status: run.status, signal: run.signal, stdout: run.stdout.trim(), stderr: run.stderr };
}

describe.runIf(existsSync(ADDON))('a stopping environment never aborts the process', () => {
  for (const mode of ['sync', 'async'] as const) {
    test(`${mode}: workers terminated while the addon works in them`, () => {
      expect(stopBusyWorkers(mode, 'terminate', 5)).toEqual({ status: 0, signal: null, stdout: 'done', stderr: '' });
    });

    test(`${mode}: the process exiting while a worker's addon call is under way`, () => {
      expect(stopBusyWorkers(mode, 'exit', 1)).toEqual({ status: 0, signal: null, stdout: 'done', stderr: '' });
    });
  }
});
