/** `arq merge`: the shards of one certify or verify run (--shard i/k) joined into the files a single run writes. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { withOverwriteOption } from './options.js';

interface MergeArgs {
  shards: string[];
  out: string;
  overwrite: boolean;
  json: boolean;
}

export const mergeCommand: CommandModule<object, MergeArgs> = {
  command: 'merge <shards..>',
  describe: 'join the results of certify or verify run with --shard i/k (every shard once) into the files of one run',
  builder: (yargs: Argv) =>
    withOverwriteOption(yargs)
      .positional('shards', { type: 'string', array: true, demandOption: true, describe: 'the shards\' FILE.tsv (their FILE.settings.json beside them)' })
      .option('out', { type: 'string', demandOption: true, describe: 'FILE.tsv; FILE.summary.json and FILE.settings.json go beside it' })
      .option('json', { type: 'boolean', default: false, describe: 'print the merged summary as one JSON object on stdout' }),
  handler: async (args: ArgumentsCamelCase<MergeArgs>) => {
    const { readFileSync } = await import('node:fs');
    const { mergeShards } = await import('../distributed/merge.js');
    const { checkOutputs } = await import('../util/files.js');
    const { settingsPath, summaryPath } = await import('../smoothing/results.js');
    const { printJson } = await import('./print.js');
    const shards = args.shards.map(String);
    const inputs = shards.flatMap((s) => [s, settingsPath(s)]);
    checkOutputs([args.out, summaryPath(args.out), settingsPath(args.out)], { flag: '--out', inputs, overwrite: args.overwrite });
    const result = mergeShards(shards, args.out);
    if (args.json) {
      printJson(JSON.parse(readFileSync(result.summaryPath, 'utf8')) as object);
      return;
    }
    console.log(`merged ${result.shards} shards of a ${result.kind} run: ${result.images} images in ${args.out}, summary: ${result.summaryPath}`);
  },
};
