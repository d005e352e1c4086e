/**
 * Writing an IBP-trained network: the ONNX file and OUT.json beside it. A QA-IBP network carries its calibration in
 * the file (quant/carried-calibration.ts), so `arq verify|predict --model OUT --bits ..` builds exactly the integer
 * network that was trained, and OUT.policy.json is its policy re-keyed to OUT's sha256.
 */
import { createHash } from 'node:crypto';
import { CALIBRATION_KEY, encodeCalibration } from '../quant/carried-calibration.js';
import { savePolicy } from '../quant/policy.js';
import { writeFileAtomic } from '../util/files.js';
import { exportTrainGraph, EXPORT_OPSET } from './export.js';
import type { IbpQuantization, IbpTrainResult } from './ibp.js';
import { outputBase } from './save.js';

export interface SavedIbpModel {
  readonly model: string;
  readonly sidecar: string;
  readonly policyFile?: string;
  readonly sha256: string;
  readonly onnx_size_bytes: number;
  readonly training_seconds: number;
}

/** The files `saveIbpModel` writes for `out`: the model, its sidecar and, when quantized, the policy. */
export function ibpOutputs(out: string, quantized: boolean): string[] {
  const base = outputBase(out);
  return [out, `${base}.json`, ...(quantized ? [`${base}.policy.json`] : [])];
}

export async function saveIbpModel(result: IbpTrainResult, out: string, command: string, quantization?: IbpQuantization): Promise<SavedIbpModel> {
  const metadata: Record<string, string> = { 'arq.ibp.settings': JSON.stringify(result.settings) };
  if (quantization) {
    metadata['arq.ibp.policy'] = JSON.stringify(quantization.policy.layers);
    metadata[CALIBRATION_KEY] = encodeCalibration(quantization.calibration);
  }
  const bytes = exportTrainGraph(result.graph, metadata);
  writeFileAtomic(out, bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const [, sidecar, policyFile] = ibpOutputs(out, quantization !== undefined);
  if (quantization) await savePolicy(policyFile, { ...quantization.policy, model: sha256 });
  const last = result.history[result.history.length - 1];
  const { input, shapes, output } = result.graph;
  writeFileAtomic(sidecar, `${JSON.stringify({
    model: out.split('/').pop(),
    command,
    produced_by: quantization ? 'arq train --ibp (QA-IBP)' : 'arq train --ibp --float',
    opset: EXPORT_OPSET,
    input: { name: input.name, shape: ['batch', ...input.shape], range: '[0,1], no normalisation' },
    output: { name: output, shape: ['batch', shapes.get(output)![0]] },
    settings: result.settings,
    ...(quantization ? { policy: quantization.policy.layers, policy_file: policyFile.split('/').pop(), calibration: quantization.calibration.settings } : {}),
    training_time_s: Number(result.seconds.toFixed(1)),
    history: result.history,
    test_acc_clean: last?.testAccuracy,
    test_ibp_certified: last?.testCertified,
    test_ibp_certified_note: `IBP bounds alone at eps ${result.settings.eps}${quantization ? ' (the integer network\'s, as arq verify\'s first stage computes them)' : ' (the float network\'s; they do not carry over to a quantized plan)'}; arq verify's complete verifier certifies at least these`,
    sha256,
    onnx_size_bytes: bytes.length,
  }, null, 2)}\n`);
  return { model: out, sidecar, policyFile, sha256, onnx_size_bytes: bytes.length, training_seconds: result.seconds };
}
