// --max-memory (src/cli/options.ts): its parsing, and the limit reaching the native plans of a command.
import { describe, expect, test } from 'vitest';
import { parseMemorySize } from '../../src/cli/options.js';
import { fixturePath } from '../support/fixtures.js';
import { arq as arqRun } from './run.js';


const arq = (...args: string[]) => arqRun(args);

describe('--max-memory', () => {
  test('sizes are MiB by default or carry a unit', () => {
    expect(parseMemorySize('512')).toBe(512 * 2 ** 20);
    expect(parseMemorySize('512MiB')).toBe(512 * 2 ** 20);
    expect(parseMemorySize('512m')).toBe(512 * 2 ** 20);
    expect(parseMemorySize('4GiB')).toBe(4 * 2 ** 30);
    expect(parseMemorySize('1.5G')).toBe(1.5 * 2 ** 30);
    for (const bad of ['', 'lots', '0', '0.5', '-1GiB', '4TiB', '1e3']) expect(() => parseMemorySize(bad), bad).toThrow(/^--max-memory: expected a size of at least 1 MiB/);
  });

  test('a limit too small for the run fails with one line naming the flag; a larger one runs', async () => {
    const args = ['predict', '--model', fixturePath('mnist_cnn'), '--data', 'mnist', '--max', '64', '--threads', '2', '--json'];
    const small = await arq(...args, '--max-memory', '1');
    expect(small.code).not.toBe(0);
    expect(small.stderr.trim()).toMatch(/^arq: FloatPlan(\.run)?: needs about [\d.]+ MiB, more than the memory limit of 1\.0 MiB \(largest: .*\); raise the limit with the maxMemory option \(CLI: --max-memory\)$/);
    const large = await arq(...args, '--max-memory', '4GiB');
    expect(large.code).toBe(0);
    expect(JSON.parse(large.stdout).count).toBe(64);
    const bad = await arq(...args, '--max-memory', 'lots');
    expect(bad.stderr.trim()).toBe('arq: --max-memory: expected a size of at least 1 MiB such as 512MiB or 4GiB, got "lots"');
  });
});
