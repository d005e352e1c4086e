/**
 * Gaussian noise throughput per ISA level: values per second of the native fill on one thread (no JavaScript in the
 * loop), and the time to produce one certification batch of noisy copies of an image through _noise.addGaussian
 * (allocation and the binding included), on one thread and on `--threads`.
 *
 *   npm run bench -- noise [--batch 400] [--shape 3,32,32] [--seconds 1] [--threads 2]
 */
import { parseArgs } from 'node:util';
import { cpuInfo, noise, supportedIsas, type IsaName } from '../src/native.js';
import { patternImages } from './support/inputs.js';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '400' },
    shape: { type: 'string', default: '3,32,32' },
    seconds: { type: 'string', default: '1' },
    threads: { type: 'string', default: String(cpuInfo().threads) },
  },
});

const batch = Number(values.batch);
const elements = values.shape.split(',').map(Number).reduce((a, b) => a * b, 1);
const seconds = Number(values.seconds);
const threads = Number(values.threads);
const generator = noise();
const image = patternImages(elements);

/** Native values per second: grow the iteration count until one timed run lasts `seconds`. */
function valuesPerSecond(isa: IsaName): number {
  let iterations = 16;
  for (;;) {
    const time = generator.fillTime(isa, elements, iterations);
    if (time >= seconds) return (iterations * elements) / time;
    iterations = Math.ceil(iterations * Math.min(16, Math.max(2, (1.2 * seconds) / Math.max(time, 1e-6))));
  }
}

/** Median milliseconds of one addGaussian batch. */
function batchMilliseconds(isa: IsaName, threadCount: number): number {
  generator.addGaussian(isa, 0, 1, 0, 0, batch, image, 0.25, threadCount); // warm-up
  const times: number[] = [];
  const start = performance.now();
  let sample = 0;
  while (times.length < 5 || performance.now() - start < seconds * 1000) {
    const t0 = performance.now();
    generator.addGaussian(isa, 0, 1, 0, sample, batch, image, 0.25, threadCount);
    times.push(performance.now() - t0);
    sample += batch;
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

const isas = supportedIsas();
const cpu = cpuInfo();
console.log(`Gaussian noise, ${elements} values per sample, batch ${batch}, CPU ${cpu.detected} (${cpu.threads} hardware threads)`);
console.log(`isa         variant             Mvalues/s (1 thread)  batch ms (1 thread)  batch ms (${threads} threads)`);
for (const isa of isas) {
  const rate = valuesPerSecond(isa);
  const one = batchMilliseconds(isa, 1);
  const many = batchMilliseconds(isa, threads);
  console.log(`${isa.padEnd(11)} ${generator.name(isa).padEnd(19)} ${(rate / 1e6).toFixed(0).padStart(20)}  ${one.toFixed(3).padStart(19)}  ${many.toFixed(3).padStart(18 + String(threads).length)}`);
}
