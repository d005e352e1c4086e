/**
 * The guard around every native entry point (native/common/guard.h): C++ exceptions, allocation failures included,
 * reach JavaScript as errors naming the operation, from sync bindings (argument copies too) and async workers.
 * bad_alloc is provoked for real: a child process whose address space is capped (ulimit -v) makes a plan copy a
 * 1 GiB weight array, and asks for one 2 GiB histogram table.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { addon } from '../../src/native.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ADDON = path.join(ROOT, 'build/Release/arq.node');

// Runs `call` (an expression awaited with the raw addon bound to `addon`) in a child node whose virtual memory is
// capped at 2.2 GB: room for node (~0.7 GB) and a 1 GiB array, none for a second one. Prints the error or 'done'.
function underMemoryCap(call: string): { status: number | null; stdout: string; stderr: string } {
  const script = `const addon = require(process.argv[1]);
(async () => {
  try { await (${call}); console.log('done'); } catch (e) { console.log(e.constructor.name + ': ' + e.message); }
})();`;
  const run = spawnSync('bash', ['-c', 'ulimit -v 2200000 && exec node -e "$0" "$1"', script, ADDON], { encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, stdout: run.stdout.trim(), stderr: run.stderr };
}

describe('allocation failures become JavaScript errors', () => {
  test.runIf(existsSync(ADDON))('sync: a spec whose weight copy cannot be allocated throws "FloatPlan: out of memory"', () => {
    const features = 2 ** 15;
    const out = 2 ** 13; // a 1 GiB weight
    const run = underMemoryCap(`new addon.FloatPlan({ input: [${features}, 1, 1], values: 2, output: 1, ops: [{ op: 'gemm', inputs: [0], output: 1, weight: new Float32Array(${features * out}), bias: null, outFeatures: ${out} }] })`);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('Error: FloatPlan: out of memory');
  });

  test.runIf(existsSync(ADDON))('async: 2 GiB of histograms under a raised limit reject with "FloatPlan.observeHistograms: out of memory"', () => {
    const values = 4097; // the most a plan may have: 4097 x 65536 bins x 8 bytes per thread
    const run = underMemoryCap(`(() => {
      const ops = Array.from({ length: ${values - 1} }, (_, i) => ({ op: 'clamp', inputs: [i], output: i + 1, clamp: [0, 1] }));
      const plan = new addon.FloatPlan({ input: [1, 1, 1], values: ${values}, output: ${values - 1}, ops, maxMemory: 2 ** 53 });
      const ranges = new Float32Array(${2 * values}).map((_, i) => i % 2);
      return plan.observeHistograms(new Float32Array(1), 1, 1, ranges, 65536);
    })()`);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('Error: FloatPlan.observeHistograms: out of memory');
  });
});

describe('C++ exceptions from the cores become errors naming the operation', () => {
  const tiny = () => ({ input: [1, 1, 1] as [number, number, number], values: 2, output: 1, ops: [{ op: 'clamp' as const, inputs: [0], output: 1, clamp: [0, 1] as [number, number] }] });

  test('sync function: std::invalid_argument of the clip search', () => {
    expect(() => addon().quantizeWeights(new Float32Array([NaN]), 1, 8)).toThrow(/^quantizeWeights: weight \[0\]\[0\] is NaN$/);
  });

  test('sync constructor and method: the memory limit is a RangeError', () => {
    const Native = addon().FloatPlan;
    const plan = new Native({ ...tiny(), maxMemory: 2 ** 20 });
    expect(plan.checkMemory(1, 1, 0)).toBeLessThan(2 ** 20);
    expect(() => plan.checkMemory(1, 1, 2 ** 16)).toThrow(RangeError);
    expect(() => plan.checkMemory(1, 1, 2 ** 16)).toThrow(/^FloatPlan\.checkMemory: needs about 3\.0 MiB, .*\(largest: histograms of 2 values x 65536 bins x 3 copies/);
    expect(() => new Native({ ...tiny(), input: [4096, 4096, 4], maxMemory: 2 ** 20 })).toThrow(/^FloatPlan: needs about/);
  });

  test('async worker: std::invalid_argument and the memory limit reject with the operation named', async () => {
    const plan = new (addon().FloatPlan)(tiny());
    const ranges = new Float32Array([0, NaN, 0, 1]);
    await expect(plan.observeHistograms(new Float32Array(1), 1, 1, ranges, 8)).rejects.toThrow(/^FloatPlan\.observeHistograms: ranges of value 0 must be finite with min <= max$/);
  });

  test('a call over the memory limit throws before its input is copied', () => {
    const limited = new (addon().FloatPlan)({ ...tiny(), maxMemory: 2 ** 20 });
    expect(() => limited.run(new Float32Array(2 ** 18), 2 ** 18, 1)).toThrow(/^FloatPlan\.run: needs about 3\.0 MiB, more than the memory limit of 1\.0 MiB \(largest: the logits/);
  });

  test('the integer plan and the trainer classes go through the same guard', () => {
    const { IntPlan, TrainNet } = addon();
    expect(() => new IntPlan({ ...tiny(), grids: [null, null] })).toThrow(/^IntPlan: op #0 \(clamp\): needs a quantized input/);
    expect(() => new TrainNet({ ...tiny(), values: 3, output: 2 })).toThrow(/^TrainNet: /);
  });
});

test('no native source registers a function, method or class except through the guard', () => {
  const sources = readdirSync(path.join(ROOT, 'native'), { recursive: true, encoding: 'utf8' }).filter((file) => /\.(cc|h)$/.test(file));
  expect(sources.length).toBeGreaterThan(50);
  const registering = /Function::New|InstanceMethod|InstanceAccessor|StaticMethod|StaticAccessor|ObjectWrap<|napi_create_function|napi_define_class/;
  const offenders = sources.filter((file) => file !== path.join('common', 'guard.h') && registering.test(readFileSync(path.join(ROOT, 'native', file), 'utf8')));
  expect(offenders).toEqual([]);
});
