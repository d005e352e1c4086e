/** `arq quantize`: calibrate a policy on noisy training images and write the quantized model as ONNX QDQ. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { calibrationFromArgs, inputFiles, withCalibrationOptions, withOutputOptions, withOverwriteOption, withSeedOption, withThreadsOption, CALIBRATION_SEED, type CalibrationArgs } from './options.js';

interface QuantizeArgs extends CalibrationArgs {
  model: string;
  data: string;
  out: string;
  opset: number;
  overwrite: boolean;
  json: boolean;
  quiet: boolean;
}

export const quantizeCommand: CommandModule<object, QuantizeArgs> = {
  command: 'quantize',
  describe: 'calibrate a quantization policy and write the quantized model (ONNX QDQ) with its policy',
  builder: (yargs: Argv) =>
    withOverwriteOption(withThreadsOption(withSeedOption(withCalibrationOptions(withOutputOptions(yargs)), CALIBRATION_SEED)))
      .option('model', { type: 'string', demandOption: true, describe: 'ONNX file' })
      .option('data', { type: 'string', default: 'mnist', describe: 'dataset whose training split calibrates (see --calibration-data)' })
      .option('out', { type: 'string', demandOption: true, describe: 'output .onnx (QDQ); the policy goes to OUT.policy.json' })
      .option('opset', { type: 'number', default: 21, describe: 'ONNX opset of the export (21+: int4 weights; 13..20: int8 storage)' }),
  handler: async (args: ArgumentsCamelCase<QuantizeArgs>) => {
    const { checkOutputs, writeFileAtomic } = await import('../util/files.js');
    const { loadModel } = await import('../onnx/model.js');
    const { prepareQuantization } = await import('../quant/quantize.js');
    const { intPlanSpec } = await import('../engine/int-plan.js');
    const { savePolicy } = await import('../quant/policy.js');
    const { exportQdqModel } = await import('../onnx/qdq.js');
    const { integerInRange } = await import('../util/check.js');
    const { ArqError } = await import('../util/errors.js');
    const { printJson } = await import('./print.js');

    if (!args.out.endsWith('.onnx')) throw new ArqError(`--out: expected a .onnx file (the QDQ export), got ${JSON.stringify(args.out)}`);
    const policyPath = `${args.out.slice(0, -'.onnx'.length)}.policy.json`;
    checkOutputs([args.out, policyPath], { flag: '--out', inputs: await inputFiles(args), overwrite: args.overwrite });
    const model = await loadModel(args.model);
    const quantization = await prepareQuantization(model, await calibrationFromArgs(args, args.data));
    const spec = intPlanSpec(model.graph, quantization.policy, quantization.calibration);
    const exported = exportQdqModel(model.graph, spec, { opset: integerInRange('--opset', args.opset, 13, 22) });
    writeFileAtomic(args.out, exported.bytes);
    await savePolicy(policyPath, quantization.policy);
    const result = {
      out: args.out, policy: policyPath, bytes: exported.bytes.length, bitops_percent: quantization.cost.bitopsPercent,
      size_bytes: quantization.cost.sizeBytes, calibration: quantization.calibration.settings, differences: exported.metadata.differences,
    };
    if (args.json) {
      printJson(result);
      return;
    }
    console.log(`wrote ${args.out} (${exported.bytes.length} bytes, QDQ opset ${args.opset}) and ${policyPath}`);
    console.log(`BitOps ${quantization.cost.bitopsPercent.toFixed(3)}% of float; weights ${quantization.cost.sizeBytes} bytes (float32 ${quantization.cost.floatSizeBytes})`);
    console.log(`calibrated on ${quantization.calibration.settings.count} images of ${quantization.calibration.settings.data} at sigma ${quantization.calibration.settings.sigma}`);
    console.log(`--engine int on ${args.out} runs exactly this plan; ONNX Runtime runs it close to, not bit-identical with, arq's integer engine (the file's arq.qdq.differences metadata): --semantics ort follows its bias rounding, and arq compare --model ${args.out} measures the agreement.`);
  },
};
