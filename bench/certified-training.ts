/**
 * Certified training against its baselines (issue 17), as a user runs them: each network trained with `arq train`
 * on the same architecture and data, then verified as the deployed integer plan with `arq verify` (the complete
 * verifier) on the same test images.
 *
 *   standard + PTQ   --ibp --float --eps 0 --kappa 0 --lambda 0 (plain Adam training), quantized after training
 *   float IBP + PTQ  --ibp --float --eps T: the float network's certificate does not carry over to its quantization
 *   QAT              --ibp --init standard --bits B --eps 0 --kappa 0 --lambda 0 (quantization-aware, no IBP)
 *   QA-IBP           --ibp --init float-IBP --bits B --eps T [--eps-start S: the fine-tune's ramp starts at S]
 *
 * Each step is skipped when its output exists in --dir (so an interrupted comparison continues). Prints a markdown
 * table: clean accuracy, then verified / falsified / timeouts per radius, and training time (the sum over the chain
 * of each `arq train`'s training_time_s, wall clock); then, on the whole test set, clean accuracy and the fraction
 * the integer plan's interval bounds alone certify per radius (verify's first stage: a lower bound on verified),
 * with the calibration arq verify uses (the file's own, else 256 training images at --sigma, arq verify's default
 * 0.25; QA-IBP files carry theirs, made from clean images: --sigma 0 calibrates the PTQ baselines the same way).
 *
 *   npm run bench -- certified-training [--dir /tmp/arq-certified] [--data mnist] [--bits w8a8] [--arch ibp-small]
 *     [--eps 4/255] [--verify-eps 1/255,4/255] [--epochs 5] [--qa-epochs 2] [--max 200] [--timeout 20] [--threads 2]
 *     [--methods standard,ibp,qat,qaibp] [--sigma 0.25] [--eps-start S]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadDataset } from '../src/data/index.js';
import { parseEpsilon } from '../src/verify/eps.js';
import { ibpCertified } from './support/ibp-certified.js';

const { values: o } = parseArgs({
  options: {
    dir: { type: 'string', default: '/tmp/arq-certified' },
    data: { type: 'string', default: 'mnist' },
    bits: { type: 'string', default: 'w8a8' },
    arch: { type: 'string', default: 'ibp-small' },
    eps: { type: 'string', default: '4/255' },
    'verify-eps': { type: 'string', default: '1/255,4/255' },
    epochs: { type: 'string', default: '5' },
    'qa-epochs': { type: 'string', default: '2' },
    max: { type: 'string', default: '200' },
    timeout: { type: 'string', default: '20' },
    threads: { type: 'string', default: '2' },
    methods: { type: 'string', default: 'standard,ibp,qat,qaibp' },
    sigma: { type: 'string', default: '0.25' },
    'eps-start': { type: 'string' },
  },
});

const arq = path.resolve('bin/arq.js');
mkdirSync(o.dir, { recursive: true });
const file = (name: string) => path.join(o.dir, name);
const common = ['--data', o.data, '--threads', o.threads, '--seed', '0', '--quiet'];
const plain = ['--eps', '0', '--kappa', '0', '--lambda', '0'];

function run(args: string[]): void {
  console.error(`npx arq ${args.join(' ')}`);
  execFileSync(arq, args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Trains `out` with `args` unless it exists; returns its training seconds plus those of `after` (its --init). */
function trained(out: string, args: string[], after?: string): number {
  if (!existsSync(file(out))) run(['train', '--ibp', ...args, ...common, '--out', file(out)]);
  const own = (JSON.parse(readFileSync(file(out.replace(/\.onnx$/, '.json')), 'utf8')) as { training_time_s: number }).training_time_s;
  return own + (after ? trained(after, []) : 0);
}

const floatArgs = ['--float', '--arch', o.arch, '--epochs', o.epochs];
const quantArgs = (init: string) => ['--init', file(init), '--bits', o.bits, '--epochs', o['qa-epochs']];
const methods: Record<string, { label: string; model: string; seconds: () => number }> = {
  standard: { label: 'standard + PTQ', model: 'standard.onnx', seconds: () => trained('standard.onnx', [...floatArgs, ...plain]) },
  ibp: { label: 'float IBP + PTQ', model: 'ibp.onnx', seconds: () => trained('ibp.onnx', [...floatArgs, '--eps', o.eps]) },
  qat: { label: 'QAT', model: 'qat.onnx', seconds: () => (trained('standard.onnx', [...floatArgs, ...plain]), trained('qat.onnx', [...quantArgs('standard.onnx'), ...plain], 'standard.onnx')) },
  qaibp: { label: 'QA-IBP', model: 'qaibp.onnx', seconds: () => (trained('ibp.onnx', [...floatArgs, '--eps', o.eps]), trained('qaibp.onnx', [...quantArgs('ibp.onnx'), '--eps', o.eps, ...(o['eps-start'] ? ['--eps-start', o['eps-start']] : [])], 'ibp.onnx')) },
};

interface Summary {
  images: number;
  clean_accuracy: number;
  results: Record<string, { verified: number; falsified: number; timeouts: number }>;
  seconds_per_image: number;
}

const radii = o['verify-eps'].split(',');
const pct = (x: number) => (100 * x).toFixed(1);
const rows: string[] = [];
const ibpRows: string[] = [];
const test = await loadDataset(o.data, 'test');

for (const name of o.methods.split(',')) {
  const method = methods[name];
  if (!method) throw new Error(`unknown method ${name}; expected ${Object.keys(methods).join(', ')}`);
  const seconds = method.seconds();
  const out = file(`${name}.verify.tsv`);
  if (!existsSync(`${file(name)}.verify.summary.json`)) {
    run(['verify', '--model', file(method.model), '--bits', o.bits, '--data', o.data, '--eps', o['verify-eps'], '--max', o.max, '--timeout', o.timeout, '--threads', o.threads, '--sigma', o.sigma, '--out', out, '--overwrite', '--quiet']);
  }
  const summary = JSON.parse(readFileSync(`${file(name)}.verify.summary.json`, 'utf8')) as Summary;
  const cells = radii.map((r) => `${pct(summary.results[r].verified)} / ${pct(summary.results[r].falsified)} / ${pct(summary.results[r].timeouts)}`);
  rows.push(`| ${method.label} | ${pct(summary.clean_accuracy)} | ${cells.join(' | ')} | ${seconds.toFixed(0)} | ${summary.seconds_per_image.toFixed(2)} |`);
  const whole = await ibpCertified(file(method.model), test, { bits: o.bits, data: o.data, sigma: Number(o.sigma), threads: Number(o.threads), radii: radii.map((r) => parseEpsilon(r).value) });
  ibpRows.push(`| ${method.label} | ${[whole.clean, ...whole.certified].map(pct).join(' | ')} |`);
}
console.log(`${o.data}, ${o.arch}, ${o.bits}, ${radii.join(' and ')}, first ${o.max} test images, timeout ${o.timeout} s, PTQ calibration sigma ${o.sigma}; verified / falsified / timeouts in %\n`);
console.log(`| method | clean % | ${radii.join(' | ')} | training s | verify s/image |`);
console.log(`|---|---|${radii.map(() => '---|').join('')}---|---|`);
for (const row of rows) console.log(row);
console.log(`\nThe whole ${test.name} (${test.count} images): clean accuracy and IBP-certified % of the integer plan\n`);
console.log(`| method | clean % | ${radii.join(' | ')} |`);
console.log(`|---|---|${radii.map(() => '---|').join('')}`);
for (const row of ibpRows) console.log(row);
