/**
 * `arq bench <name> [options]`: runs bench/<name>.ts (kernels, network, profile, layers, certify, irs, noise, train, serve-load, search-quality) in one process against
 * ONNX Runtime on this machine. Benchmarks are TypeScript run through tsx, a development dependency of a checkout.
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';

interface BenchArgs {
  name: string;
}

export const benchCommand: CommandModule<object, BenchArgs> = {
  command: 'bench <name> [options..]',
  describe: 'run a benchmark of bench/ (kernels, network, profile, layers, certify, irs, noise, train, serve-load, search-quality) and print ratios against ONNX Runtime',
  builder: (yargs: Argv) =>
    yargs
      .positional('name', { type: 'string', demandOption: true, describe: 'benchmark: kernels | network | profile | layers | certify | irs | noise | train | serve-load | search-quality' })
      .positional('options', { type: 'string', array: true, describe: "the benchmark's own flags (see bench/<name>.ts), after --" })
      .strict(false),
  handler: async (args: ArgumentsCamelCase<BenchArgs>) => {
    const { spawn } = await import('node:child_process');
    const { existsSync } = await import('node:fs');
    const path = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const { createRequire } = await import('node:module');
    const { ArqError } = await import('../util/errors.js');
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
    const runner = path.join(root, 'bench/run.ts');
    if (!existsSync(runner)) throw new ArqError('benchmarks need a checkout of arq (bench/ is not installed with the package)');
    let tsx: string;
    try {
      tsx = createRequire(path.join(root, 'package.json')).resolve('tsx');
    } catch {
      throw new ArqError('benchmarks need the tsx development dependency: run `npm install` in the checkout');
    }
    // The benchmark's flags pass through untouched: everything after `bench <name>` (a leading `--` dropped).
    const argv = process.argv.slice(2);
    const rest = argv.slice(argv.indexOf('bench') + 2).filter((arg, i) => !(i === 0 && arg === '--'));
    const child = spawn(process.execPath, ['--import', tsx, runner, args.name, ...rest], { cwd: root, stdio: 'inherit' });
    const code = await new Promise<number>((resolve) => child.on('exit', (exitCode) => resolve(exitCode ?? 1)));
    if (code !== 0) process.exitCode = code;
  },
};
