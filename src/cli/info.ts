/** `arq info MODEL`: layers, shapes, MACs, parameters and float BitOps. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { withOutputOptions, withPolicyOptions } from './options.js';

interface InfoArgs {
  model: string;
  policy?: string;
  bits?: string;
  json: boolean;
  quiet: boolean;
}

export const infoCommand: CommandModule<object, InfoArgs> = {
  command: 'info <model>',
  describe: 'show the layers, shapes, MACs and parameters of an ONNX model',
  builder: (yargs: Argv) => withPolicyOptions(withOutputOptions(yargs.positional('model', { type: 'string', demandOption: true, describe: 'ONNX file' }))) as unknown as Argv<InfoArgs>,
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
    const bits = new Map(policy?.layers.map((l) => [l.name, l]) ?? []);
    if (args.json) {
      printJson({
        model: model.path, sha256: model.sha256, opset: model.opset, input: model.graph.input.shape,
        layers: layers.map((l) => ({ name: l.name, op: l.op, macs: l.macs, params: l.params, input_shape: l.inputShape, output_shape: l.outputShape })),
        macs: total.macs, params: total.params, float_bitops: total.floatBitOps,
        ...(cost && policy ? { policy: policy.layers, bitops: cost.bitops, bitops_percent: cost.bitopsPercent, size_bytes: cost.sizeBytes, float_size_bytes: cost.floatSizeBytes } : {}),
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
    console.log(`\n${layers.length} quantizable layers, ${formatCount(total.macs)} MACs and ${formatCount(total.params)} parameters per image; float BitOps ${formatCount(total.floatBitOps)} (MACs x 32 x 32; only Conv and Gemm layers are counted)`);
  },
};
