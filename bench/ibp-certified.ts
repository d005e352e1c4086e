/**
 * Clean accuracy and IBP-certified accuracy (the integer plan's interval bounds alone, verify's first stage) of one
 * model on a whole test set, under --bits or --policy, calibrated as `arq verify --sigma S` would calibrate it (a
 * file's own calibration wins): the table certified-training.ts prints, for any policy and calibration.
 *
 *   npm run bench -- ibp-certified --model M.onnx (--bits w4a4 | --policy P.json) [--data mnist] [--sigma 0.25]
 *     [--eps 1/255,4/255] [--threads 2]
 */
import { parseArgs } from 'node:util';
import { loadDataset } from '../src/data/index.js';
import { parseEpsilon } from '../src/verify/eps.js';
import { ibpCertified } from './support/ibp-certified.js';

const { values: o } = parseArgs({
  options: {
    model: { type: 'string' },
    bits: { type: 'string' },
    policy: { type: 'string' },
    data: { type: 'string', default: 'mnist' },
    sigma: { type: 'string', default: '0.25' },
    eps: { type: 'string', default: '1/255,4/255' },
    threads: { type: 'string', default: '2' },
  },
});
if (!o.model) throw new Error('--model is required');
const radii = o.eps.split(',');
const test = await loadDataset(o.data, 'test');
const result = await ibpCertified(o.model, test, { bits: o.bits, policy: o.policy, data: o.data, sigma: Number(o.sigma), threads: Number(o.threads), radii: radii.map((r) => parseEpsilon(r).value) });
const pct = (x: number) => (100 * x).toFixed(2);
console.log(`${o.model} under ${o.bits ?? o.policy}, calibration sigma ${o.sigma}, the whole ${test.name} (${test.count} images)\n`);
console.log(`| clean % | ${radii.map((r) => `IBP-certified at ${r} %`).join(' | ')} |`);
console.log(`|---|${radii.map(() => '---|').join('')}`);
console.log(`| ${[result.clean, ...result.certified].map(pct).join(' | ')} |`);
