/** `arq serve`: certified predictions over HTTP (src/serve), until SIGINT or SIGTERM closes the server gracefully. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { withPolicyOptions, withThreadsOption } from './options.js';

interface ServeArgs {
  model: string;
  engine: 'float' | 'int';
  policy?: string;
  bits?: string;
  calibrationData?: string;
  calibration: number;
  sigma: number;
  port: number;
  host: string;
  batch: number;
  threads?: number;
  maxN: number;
  maxN0: number;
  deadline: number;
  maxQueue: number;
  log: boolean;
}

export const serveCommand: CommandModule<object, ServeArgs> = {
  command: 'serve',
  describe: 'serve certified predictions over HTTP (POST /predict, /certify; GET /healthz, /metrics, /openapi.json)',
  builder: (yargs: Argv) =>
    withThreadsOption(withPolicyOptions(yargs))
      .option('model', { type: 'string', demandOption: true, describe: 'ONNX file' })
      .option('engine', { choices: ['float', 'int'] as const, default: 'float' as const, describe: 'float = native fp32 plan; int = native integer plan (needs --policy or --bits and --calibration-data)' })
      .option('sigma', { type: 'number', demandOption: true, describe: 'noise level the model is smoothed at' })
      .option('calibration-data', { type: 'string', describe: 'calibration images of --engine int (a data spec, e.g. mnist:train)' })
      .option('calibration', { type: 'number', default: 256, describe: 'number of calibration images' })
      .option('port', { type: 'number', default: 8080, describe: 'TCP port (0: any free port)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on' })
      .option('batch', { type: 'number', default: 400, describe: 'noisy copies per classifier call, shared across requests' })
      .option('max-n', { type: 'number', default: 100_000, describe: 'largest n a request may ask for' })
      .option('max-n0', { type: 'number', default: 10_000, describe: 'largest n0 a request may ask for' })
      .option('deadline', { type: 'number', default: 10, describe: 'seconds a request may take before it is cancelled with 503; a request is admitted only if the queued work takes at most half of it' })
      .option('max-queue', { type: 'number', default: 64, describe: 'requests in progress at most; more get 503 with Retry-After' })
      .option('log', { type: 'boolean', default: false, describe: 'log every request (JSON lines on stdout)' }) as unknown as Argv<ServeArgs>,
  handler: async (args: ArgumentsCamelCase<ServeArgs>) => {
    const { loadModel } = await import('../onnx/model.js');
    const { createServer } = await import('../serve/server.js');
    const { integerInRange, numberInRange } = await import('../util/check.js');
    const { ArqError } = await import('../util/errors.js');

    const port = integerInRange('--port', args.port, 0, 65535);
    const deadlineMs = Math.round(1000 * numberInRange('--deadline', args.deadline, 0.001, 86_400));
    const model = await loadModel(args.model);
    let quantization;
    if (args.engine === 'int') {
      if (!args.calibrationData) throw new ArqError('--engine int needs --calibration-data (the images to calibrate the integer plan on)');
      const { prepareQuantization } = await import('../quant/quantize.js');
      quantization = await prepareQuantization(model, {
        policy: args.policy, bits: args.bits, data: args.calibrationData, calibrationData: args.calibrationData,
        sigma: args.sigma, calibrationCount: integerInRange('--calibration', args.calibration, 1, 1e6), threads: args.threads,
      });
    } else if (args.policy || args.bits) {
      throw new ArqError('--policy and --bits apply to --engine int');
    }
    const app = await createServer({
      model, engine: args.engine, quantization, sigma: args.sigma, batch: args.batch, threads: args.threads,
      maxN: args.maxN, maxN0: args.maxN0, deadlineMs, maxQueue: args.maxQueue, logger: args.log,
    });
    const address = await app.listen({ port, host: args.host });
    process.stderr.write(`arq serve: ${args.model} (engine ${args.engine}, sigma ${args.sigma}) on ${address}\n`);
    const stop = () => {
      process.stderr.write('arq serve: closing (finishing in-flight requests)\n');
      void app.close().then(() => process.exit(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  },
};
