/** The `arq` command line: registers the commands (src/cli/*) and turns errors into one-line messages. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { infoCommand } from './cli/info.js';
import { predictCommand } from './cli/predict.js';
import { quantizeCommand } from './cli/quantize.js';
import { certifyCommand } from './cli/certify.js';
import { smoothPredictCommand } from './cli/smooth-predict.js';
import { benchCommand } from './cli/bench.js';
import { searchCommand } from './cli/search.js';
import { trainCommand } from './cli/train.js';
import { rejectRepeatedFlags } from './cli/options.js';
import { serveCommand } from './cli/serve.js';
import { sensitivityCommand } from './cli/sensitivity.js';
import { compareCommand } from './cli/compare.js';
import { verifyCommand } from './cli/verify.js';
import { mergeCommand } from './cli/merge.js';
import { workerCommand } from './cli/worker.js';

function fail(message: string): never {
  process.stderr.write(`arq: ${message}\n`);
  process.exit(1);
}

const parser = yargs(hideBin(process.argv));
try {
  await parser
    .scriptName('arq')
    .usage('$0 <command> [options]\n\nLow-bit, certifiably robust networks: quantize, certify and search bit widths.')
    .command(searchCommand)
    .command(infoCommand)
    .command(predictCommand)
    .command(quantizeCommand)
    .command(certifyCommand)
    .command(smoothPredictCommand)
    .command(benchCommand)
    .command(trainCommand)
    .command(serveCommand)
    .command(verifyCommand)
    .command(mergeCommand)
    .command(workerCommand)
    .middleware((argv) => {
      // bench passes its own flags through to the benchmark.
      if (argv._[0] !== 'bench') rejectRepeatedFlags(hideBin(process.argv), (parser as unknown as { getOptions(): { array: string[] } }).getOptions().array);
    }, true)
    .command(sensitivityCommand)
    .command(compareCommand)
    .demandCommand(1, 'name a command (arq --help lists them)')
    .strict()
    .help()
    .fail((message, error) => {
      if (error) throw error;
      fail(message);
    })
    .parseAsync();
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  if (process.env.ARQ_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  fail(message);
}
