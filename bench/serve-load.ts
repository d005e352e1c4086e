/**
 * Load test of `arq serve` with autocannon on loopback: for each n and concurrency, requests/s, samples/s and
 * p50/p99 latency of POST /predict, next to the offline sampling rate of the same model, batch and threads in the
 * same run (served samples/s over offline samples/s is the serving efficiency). The server runs in a child process
 * (`bin/arq.js serve`, so `npm run build` first), as it would in production; every cell is bounded in time and in
 * request count. `--baseline` also loads a plain node:http wrapper around SmoothedClassifier.predict, the server a
 * user would write without `arq serve`. The server's resident memory is read from /metrics before and after.
 *
 *   npm run bench -- serve-load [--model models/mnist-cnn-s025.onnx] [--sigma 0.25] [--n 100,1000,10000]
 *     [--concurrency 1,8,32,128] [--seconds 10] [--max-requests 20000] [--deadline 10] [--batch 400] [--threads N]
 *     [--baseline]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { loadModel } from '../src/onnx/model.js';
import { FloatPlan } from '../src/engine/float-plan.js';
import { shapeSize } from '../src/graph/ir.js';
import { cpuInfo } from '../src/native.js';
import { nativeSampler } from '../src/smoothing/samplers.js';
import { SmoothedClassifier } from '../src/smoothing/smoothed.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/mnist-cnn-s025.onnx' },
    sigma: { type: 'string', default: '0.25' },
    n: { type: 'string', default: '100,1000,10000' },
    concurrency: { type: 'string', default: '1,8,32,128' },
    seconds: { type: 'string', default: '10' },
    'max-requests': { type: 'string', default: '20000' },
    deadline: { type: 'string', default: '10' },
    batch: { type: 'string', default: '400' },
    threads: { type: 'string' },
    baseline: { type: 'boolean', default: false },
  },
});

const list = (text: string) => text.split(',').map(Number);
const ns = list(values.n!);
const concurrencies = list(values.concurrency!);
const seconds = Number(values.seconds);
const maxRequests = Number(values['max-requests']);
const deadline = Number(values.deadline);
const batch = Number(values.batch);
const threads = values.threads ? Number(values.threads) : cpuInfo().threads;
const sigma = Number(values.sigma);

const model = await loadModel(values.model!);
const size = shapeSize(model.graph.input.shape);
const image = Array.from({ length: size }, (_, i) => ((i * 2654435761) % 1000) / 1000);

/** Offline: the sampling loop alone on one image, no HTTP, same batch and threads. */
async function offlineRate(): Promise<number> {
  const sampler = nativeSampler(FloatPlan.build(model.graph), size, { sigma, seed: 0, batch, threads });
  const input = Float32Array.from(image);
  await sampler.sample(input, 0, 0, batch, false);
  const samples = Math.max(20 * batch, 20_000);
  const start = performance.now();
  await sampler.sample(input, 1, 0, samples, false);
  return samples / ((performance.now() - start) / 1000);
}

/** `arq serve` in a child process on a free loopback port. */
async function startServe(): Promise<{ url: string; child: ChildProcess }> {
  const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/arq.js');
  const child = spawn(process.execPath, [cli, 'serve', '--model', values.model!, '--sigma', String(sigma), '--port', '0',
    '--batch', String(batch), '--threads', String(threads), '--deadline', String(deadline), '--max-n', String(Math.max(...ns)), '--max-queue', '256'],
  { stdio: ['ignore', 'ignore', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const found = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(text);
      if (found) resolve(found[1]);
    });
    child.once('exit', (code) => reject(new Error(`arq serve exited (code ${code}): ${text}`)));
  });
  return { url, child };
}

/** The plain wrapper a user would write: node:http around SmoothedClassifier.predict, no batching or limits. */
async function startWrapper(): Promise<{ url: string; close: () => Promise<void> }> {
  const classifier = await SmoothedClassifier.create(model, { sigma, batch, threads });
  const server = createHttpServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => { body += chunk.toString(); });
    request.on('end', () => {
      const { image: pixels, n } = JSON.parse(body) as { image: number[]; n: number };
      classifier.predict(Float32Array.from(pixels), { n }).then(
        (result) => response.end(JSON.stringify({ prediction: result.prediction })),
        (error: Error) => { response.statusCode = 500; response.end(error.message); },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: async () => { server.close(); await classifier.close(); } };
}

interface Cell { n: number; connections: number; requestsPerSecond: number; samplesPerSecond: number; p50: number; p99: number; ok: number; refused: number; errors: number }

async function load(url: string, n: number, connections: number): Promise<Cell> {
  const result = await autocannon({
    url: `${url}/predict`, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image, n }),
    connections, duration: seconds, maxOverallRequests: Math.max(maxRequests, connections), timeout: 2 * deadline + 5,
  });
  const ok = result['2xx'];
  const rate = ok / Math.max(result.duration, 1e-9);
  return { n, connections, requestsPerSecond: rate, samplesPerSecond: rate * n, p50: result.latency.p50, p99: result.latency.p99, ok, refused: result.non2xx, errors: result.errors + result.timeouts };
}

async function residentMemory(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('process_resident_memory_bytes '));
  return line ? Number(line.split(' ')[1]) / 2 ** 20 : Number.NaN;
}

function print(label: string, cells: Cell[], offline: number): void {
  console.log(`\n${label}`);
  console.log('n\tclients\treq/s\tsamples/s\tof offline\tp50 ms\tp99 ms\t2xx\tnon-2xx\terrors');
  for (const c of cells) {
    console.log([c.n, c.connections, c.requestsPerSecond.toFixed(1), c.samplesPerSecond.toFixed(0), `${((100 * c.samplesPerSecond) / offline).toFixed(0)}%`, c.p50, c.p99, c.ok, c.refused, c.errors].join('\t'));
  }
}

const offline = await offlineRate();
console.log(`model ${values.model}, sigma ${sigma}, batch ${batch}, threads ${threads}, ${seconds} s or ${maxRequests} requests per cell, deadline ${deadline} s`);
console.log(`offline sampling rate: ${offline.toFixed(0)} samples/s`);

const serve = await startServe();
try {
  const before = await residentMemory(serve.url);
  const cells: Cell[] = [];
  for (const n of ns) for (const connections of concurrencies) cells.push(await load(serve.url, n, connections));
  print('arq serve (batching across requests, admission control)', cells, offline);
  console.log(`server resident memory: ${before.toFixed(0)} MiB before, ${(await residentMemory(serve.url)).toFixed(0)} MiB after`);
} finally {
  serve.child.kill('SIGTERM');
}

if (values.baseline) {
  const wrapper = await startWrapper();
  try {
    const cells: Cell[] = [];
    for (const n of ns) for (const connections of concurrencies) cells.push(await load(wrapper.url, n, connections));
    print('plain node:http wrapper of SmoothedClassifier.predict (no batching, no limits)', cells, offline);
  } finally {
    await wrapper.close();
  }
}
