/**
 * `arq info MODEL`: layers, shapes, MACs, parameters and float BitOps; with a policy, its BitOps and size (modelled)
 * and its time per image on this CPU beside W8A8's (measured, quant/time.ts).
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { LoadedModel } from '../onnx/model.js';
import type { Policy } from '../quant/policy.js';
import type { TimeMeasurement } from '../quant/time.js';
import { microseconds } from '../report/format.js';
import { withOutputOptions, withPolicyOptions, withThreadsOption } from './options.js';

interface InfoArgs {
  model: string;
  policy?: string;
  bits?: string;
  time: boolean;
  batch: number;
  repeats: number;
  threads?: number;
  json: boolean;
  quiet: boolean;
}

/**
 * The policy's time and W8A8's, measured in the same rounds, and its BitOps over W8A8's; or why it could not be
 * measured (a graph the integer plan cannot run still has its BitOps shown). A bad flag fails the command.
 */
async function measurePolicy(model: LoadedModel, policy: Policy, bitopsPercent: number, args: InfoArgs): Promise<{ measured: TimeMeasurement; bitopsVsW8a8: number } | { error: string }> {
  const { checkTimeOptions, measureTimes } = await import('../quant/time.js');
  const { uniformPolicy } = await import('../quant/policy.js');
  const { policyCost } = await import('../quant/cost.js');
  const { ArqError } = await import('../util/errors.js');
  const options = { batch: args.batch, threads: args.threads, repeats: args.repeats };
  checkTimeOptions(options);
  try {
    const measured = await measureTimes(model.graph, [policy], options);
    return { measured, bitopsVsW8a8: bitopsPercent / policyCost(model.graph, uniformPolicy(model.graph, model.sha256, 8, 8)).bitopsPercent };
  } catch (error) {
    if (error instanceof ArqError) return { error: error.message };
    throw error;
  }
}

/** `arq info --json`'s `time`: how it was measured, the policy's and W8A8's times, and both ratios to W8A8. */
function timeJson(measured: TimeMeasurement, bitopsVsW8a8: number) {
  const [policy] = measured.times;
  return {
    ...measured.settings,
    kernels: policy.kernels,
    seconds_per_image: policy.seconds_per_image, seconds_per_image_range: policy.seconds_per_image_range, images_per_second: 1 / policy.seconds_per_image,
    w8a8_seconds_per_image: measured.w8a8.seconds_per_image, w8a8_seconds_per_image_range: measured.w8a8.seconds_per_image_range,
    time_vs_w8a8: policy.time_vs_w8a8, time_vs_w8a8_range: policy.time_vs_w8a8_range, bitops_vs_w8a8: bitopsVsW8a8,
  };
}

/** The human lines of a measured time: the policy's and W8A8's, the two ratios, and what BitOps is not. */
function timeLines(measured: TimeMeasurement, bitopsVsW8a8: number): string[] {
  const [policy] = measured.times;
  const { isa, batch, threads, repeats } = measured.settings;
  const range = (r: readonly [number, number], f: (x: number) => string) => `${f(r[0])} - ${f(r[1])}`;
  const ratio = (x: number) => x.toFixed(2);
  const { w8a8 } = measured;
  return [
    `time per image on this CPU (integer engine, ${isa}, batch ${batch}, ${threads} thread${threads === 1 ? '' : 's'}, median of ${repeats} rounds): ` +
      `${microseconds(policy.seconds_per_image)} (rounds ${range(policy.seconds_per_image_range, microseconds)}); W8A8 ${microseconds(w8a8.seconds_per_image)} (${range(w8a8.seconds_per_image_range, microseconds)})`,
    `vs W8A8: ${ratio(policy.time_vs_w8a8)}x the time (rounds ${range(policy.time_vs_w8a8_range, ratio)}) for ${ratio(bitopsVsW8a8)}x the BitOps: ` +
      'BitOps is a model of arithmetic, not time on this CPU; the two ratios show what the lower widths buy here.',
  ];
}

export const infoCommand: CommandModule<object, InfoArgs> = {
  command: 'info <model>',
  describe: 'show the layers, shapes, MACs and parameters of an ONNX model',
  builder: (yargs: Argv) =>
    withThreadsOption(withPolicyOptions(withOutputOptions(yargs.positional('model', { type: 'string', demandOption: true, describe: 'ONNX file' }))))
      .option('time', { type: 'boolean', default: true, describe: 'with --policy/--bits, measure its time per image and W8A8\'s on this CPU (about a second each; --no-time skips it)' })
      .option('batch', { type: 'number', default: 64, describe: 'images per timed run' })
      .option('repeats', { type: 'number', default: 5, describe: 'timed rounds of 100 ms per plan; the median is reported, with the range' }),
  handler: async (args: ArgumentsCamelCase<InfoArgs>) => {
    const { loadModel } = await import('../onnx/model.js');
    const { layerCosts, totalCost } = await import('../graph/cost.js');
    const { printJson, table, formatCount } = await import('./print.js');
    const model = await loadModel(args.model);
    const layers = layerCosts(model.graph);
    const total = totalCost(model.graph);
    const { resolvePolicy } = await import('../quant/policy.js');
    const { policyCost } = await import('../quant/cost.js');
    const policy = args.policy || args.bits ? await resolvePolicy(args, model.graph, model.sha256) : undefined;
    const cost = policy ? policyCost(model.graph, policy) : undefined;
    const timing = policy && cost && args.time ? await measurePolicy(model, policy, cost.bitopsPercent, args) : undefined;
    const bits = new Map(policy?.layers.map((l) => [l.name, l]) ?? []);
    if (args.json) {
      printJson({
        model: model.path, sha256: model.sha256, opset: model.opset, input: model.graph.input.shape,
        layers: layers.map((l) => ({ name: l.name, op: l.op, macs: l.macs, params: l.params, input_shape: l.inputShape, output_shape: l.outputShape })),
        macs: total.macs, params: total.params, float_bitops: total.floatBitOps,
        ...(cost && policy ? { policy: policy.layers, bitops: cost.bitops, bitops_percent: cost.bitopsPercent, size_bytes: cost.sizeBytes, float_size_bytes: cost.floatSizeBytes } : {}),
        ...(timing ? ('error' in timing ? { time_error: timing.error } : { time: timeJson(timing.measured, timing.bitopsVsW8a8) }) : {}),
      });
      return;
    }
    const counts = new Map<string, number>();
    for (const node of model.graph.nodes) counts.set(node.op, (counts.get(node.op) ?? 0) + 1);
    console.log(`${model.path}  (opset ${model.opset}${model.producer ? `, ${model.producer}` : ''})`);
    console.log(`sha256 ${model.sha256}`);
    console.log(`input [${model.graph.input.shape.join(', ')}] per image, ${model.graph.nodes.length} nodes after folding: ${[...counts].map(([op, n]) => `${op} ${n}`).join(', ')}\n`);
    const header = ['layer', 'op', 'output', 'MACs', 'params', ...(policy ? ['W', 'A'] : [])];
    console.log(table(layers.map((l) => [l.name, l.op, `[${l.outputShape.join(',')}]`, formatCount(l.macs), formatCount(l.params), ...(policy ? [bits.get(l.name)!.wbits, bits.get(l.name)!.abits] : [])]), header));
    if (cost) console.log(`\npolicy: BitOps ${formatCount(cost.bitops)} = ${cost.bitopsPercent.toFixed(3)}% of float; weights ${cost.sizeBytes} bytes (float32: ${cost.floatSizeBytes})`);
    if (timing) console.log('error' in timing ? `time per image: not measured: ${timing.error}` : timeLines(timing.measured, timing.bitopsVsW8a8).join('\n'));
    console.log(`\n${layers.length} quantizable layers, ${formatCount(total.macs)} MACs and ${formatCount(total.params)} parameters per image; float BitOps ${formatCount(total.floatBitOps)} (MACs x 32 x 32; only Conv and Gemm layers are counted)`);
  },
};
