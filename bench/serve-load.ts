/**
 * Load test of `arq serve` with autocannon on loopback (docs/serve.md has the figures). The server runs in a child
 * process (`bin/arq.js serve`, so `npm run build` first), as in production; so does the baseline, the plain node:http
 * wrapper of SmoothedClassifier.predict a user would write (bench/support/plain-wrapper.ts). Every cell is bounded in
 * time and in request count. Sections (--sections, default all):
 *
 * - matrix: requests/s, samples/s, p50/p99 of POST /predict for each n and concurrency, against the offline sampling
 *   rate of the same model, batch and threads measured just before and just after the cell (on a shared machine the
 *   rate drifts, so each cell is compared with its neighbours in time). A cell lasts twice the time its clients'
 *   queue takes to drain (concurrency x n samples at the offline rate) and at least 8 requests' time, between
 *   --seconds and --max-seconds. The
 *   server's deadline (--deadline, 60 s) is long enough that closed-loop clients are admitted: refusals are the
 *   overload section's subject.
 * - key: the targets' two points, repeated: n = 1,000 at concurrency 32 against offline, and n = 100 at concurrency
 *   32 against the plain wrapper (alternating which runs first).
 * - overload: requests at 4x the rate the engine sustains (the offline sampling rate over n, measured just before),
 *   open loop, on a second server with a short deadline (--overload-deadline): p99 of the answered requests against
 *   the deadline, share refused with 503 and why.
 * - memory: the same overload at n = 100 for --memory-seconds, the server's resident memory and heap every 10 s.
 *
 * Besides wall-clock rates, each cell reports the server's CPU time per sample (from /proc) against offline: a ratio
 * that other processes' load moves far less than throughput. Linux only (/proc).
 *
 *   npm run bench -- serve-load [--model models/mnist-cnn-s025.onnx] [--sigma 0.25] [--n 100,1000,10000]
 *     [--concurrency 1,8,32,128] [--seconds 5] [--max-seconds 30] [--max-requests 20000] [--deadline 60] [--batch 400] [--threads N]
 *     [--repeats 3] [--overload-n 1000] [--overload-seconds 20] [--overload-deadline 2] [--memory-seconds 120]
 *     [--sections matrix,key,overload,memory]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { loadModel } from '../src/onnx/model.js';
import { FloatPlan } from '../src/engine/float-plan.js';
import { shapeSize } from '../src/graph/ir.js';
import { cpuInfo } from '../src/native.js';
import { nativeSampler } from '../src/smoothing/sampler.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/mnist-cnn-s025.onnx' },
    sigma: { type: 'string', default: '0.25' },
    n: { type: 'string', default: '100,1000,10000' },
    concurrency: { type: 'string', default: '1,8,32,128' },
    seconds: { type: 'string', default: '5' },
    'max-seconds': { type: 'string', default: '30' },
    'max-requests': { type: 'string', default: '20000' },
    deadline: { type: 'string', default: '60' },
    batch: { type: 'string', default: '400' },
    threads: { type: 'string' },
    repeats: { type: 'string', default: '3' },
    'overload-n': { type: 'string', default: '1000' },
    'overload-seconds': { type: 'string', default: '20' },
    'overload-deadline': { type: 'string', default: '2' },
    'memory-seconds': { type: 'string', default: '120' },
    sections: { type: 'string', default: 'matrix,key,overload,memory' },
  },
});

const list = (text: string) => text.split(',').map(Number);
const sections = new Set(values.sections.split(','));
const seconds = Number(values.seconds);
const maxRequests = Number(values['max-requests']);
const batch = Number(values.batch);
const threads = values.threads ? Number(values.threads) : cpuInfo().threads;
const sigma = Number(values.sigma);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const clockTicks = 100; // USER_HZ: /proc reports CPU time in these on every Linux architecture arq builds for

const model = await loadModel(values.model);
const size = shapeSize(model.graph.input.shape);
const image = Array.from({ length: size }, (_, i) => ((i * 2654435761) % 1000) / 1000);
const body = (n: number) => JSON.stringify({ image, n });

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

function residentMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

/** The offline sampling loop on one image (no HTTP), same plan and threads, in windows of a given length. */
class Offline {
  private readonly sampler;
  private readonly input = Float32Array.from(image);
  private rate = 0;
  private stream = 0;

  constructor(private readonly batch: number) {
    this.sampler = nativeSampler(FloatPlan.build(model.graph), size, { sigma, seed: 0, batch, threads });
  }

  async measure(windowSeconds = 1.5): Promise<{ rate: number; cpuPerSample: number }> {
    const samples = this.batch * Math.max(1, Math.round(((this.rate || 4 * this.batch) * windowSeconds) / this.batch));
    const cpu = process.cpuUsage();
    const start = performance.now();
    await this.sampler.sample(this.input, this.stream++, 0, samples, false);
    this.rate = samples / ((performance.now() - start) / 1000);
    const used = process.cpuUsage(cpu);
    return { rate: this.rate, cpuPerSample: (used.user + used.system) / samples };
  }
}

interface Target { readonly label: string; readonly url: string; readonly pid: number; stop(): Promise<void> }

/** A server in a child process; resolves once it prints the address it listens on. */
async function spawnTarget(label: string, args: string[]): Promise<Target> {
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stderr.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const found = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(text);
      if (found) resolve(found[1]);
    });
    child.once('exit', (code) => reject(new Error(`${label} exited (code ${code}): ${text}`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return { label, url, pid: child.pid!, stop: async () => { child.kill('SIGTERM'); await exited; } };
}

const serveArgs = (deadline: string, maxN: number) => ['bin/arq.js', 'serve', '--model', values.model, '--sigma', String(sigma), '--port', '0',
  '--batch', String(batch), '--threads', String(threads), '--deadline', deadline, '--max-n', String(maxN), '--max-queue', '1024'];
const wrapperArgs = ['--import', 'tsx', 'bench/support/plain-wrapper.ts', '--model', values.model, '--sigma', String(sigma), '--batch', String(batch), '--threads', String(threads)];

/** Waits until the target has no request in progress (requests the load generator abandoned at the cell's end). */
async function idle(target: Target): Promise<void> {
  while ((await (await fetch(`${target.url}/healthz`)).json() as { inProgress: number }).inProgress > 0) await new Promise((resolve) => setTimeout(resolve, 50));
}

const percentile = (sorted: number[], p: number) => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]);

interface Cell {
  target: string; n: number; connections: number; offered: number; ok: number; refused: number; errors: number;
  requestsPerSecond: number; samplesPerSecond: number; p50: number; p99: number; p99All: number; maxOk: number; cpuPerSample: number;
  /** The server's CPU seconds per second of the cell: the share of the cores the machine gave it. */
  cores: number;
}

/** One bounded autocannon run against a target; `rate` makes it open loop (requests/s over all connections). */
async function load(target: Target, n: number, connections: number, options: { seconds: number; rate?: number; maxRequests?: number }): Promise<Cell> {
  const ok: number[] = [];
  const all: number[] = [];
  const cpu = cpuSeconds(target.pid);
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({
      url: `${target.url}/predict`, method: 'POST', headers: { 'content-type': 'application/json' }, body: body(n), connections,
      duration: options.seconds, maxOverallRequests: Math.max(options.maxRequests ?? maxRequests, connections), timeout: 60,
      ...(options.rate === undefined ? {} : { overallRate: options.rate, ignoreCoordinatedOmission: true }),
    }, (error, done) => (error ? reject(error) : resolve(done)));
    instance.on('response', (_client, status, _bytes, ms) => {
      all.push(ms);
      if (status < 300) ok.push(ms);
    });
  });
  const used = cpuSeconds(target.pid) - cpu;
  await idle(target);
  ok.sort((a, b) => a - b);
  all.sort((a, b) => a - b);
  const rate = ok.length / result.duration;
  return {
    target: target.label, n, connections, offered: all.length / result.duration, ok: ok.length, refused: result.non2xx, errors: result.errors + result.timeouts,
    requestsPerSecond: rate, samplesPerSecond: rate * n, p50: percentile(ok, 0.5), p99: percentile(ok, 0.99), p99All: percentile(all, 0.99), maxOk: ok.at(-1) ?? Number.NaN,
    cpuPerSample: ok.length > 0 ? (1e6 * used) / (ok.length * n) : Number.NaN, cores: used / result.duration,
  };
}

const fixed = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
const percent = (ratio: number) => `${fixed(100 * ratio)}%`;

function printCells(title: string, rows: { cell: Cell; offline: { rate: number; cpuPerSample: number } }[]): void {
  console.log(`\n${title}`);
  console.log('server\tn\tclients\treq/s\tsamples/s\toffline/s\tof offline\tCPU us/sample\tCPU of offline\tcores\tp50 ms\tp99 ms\t2xx\tnon-2xx\terrors');
  for (const { cell: c, offline } of rows) {
    console.log([c.target, c.n, c.connections, fixed(c.requestsPerSecond, 1), fixed(c.samplesPerSecond), fixed(offline.rate), percent(c.samplesPerSecond / offline.rate),
      fixed(c.cpuPerSample), percent(offline.cpuPerSample / c.cpuPerSample), fixed(c.cores, 2), fixed(c.p50), fixed(c.p99), c.ok, c.refused, c.errors].join('\t'));
  }
}

/**
 * Twice the time a cell's clients' queue takes to drain at `rate`, and at least 8 requests' time (so that a cell of
 * long requests answers more than one or two), within [--seconds, --max-seconds].
 */
const cellSeconds = (n: number, connections: number, rate: number) => Math.min(Number(values['max-seconds']), Math.max(seconds, Math.ceil(Math.max(2 * n * connections, 8 * n) / rate)));

const mean = (a: { rate: number; cpuPerSample: number }, b: { rate: number; cpuPerSample: number }) => ({ rate: (a.rate + b.rate) / 2, cpuPerSample: (a.cpuPerSample + b.cpuPerSample) / 2 });

const offline = new Offline(batch);
await offline.measure(0.5);
const serve = await spawnTarget('arq serve', serveArgs(values.deadline, Math.max(...list(values.n), Number(values['overload-n']))));
const targets: Target[] = [serve];
console.log(`model ${values.model}, sigma ${sigma}, batch ${batch}, threads ${threads} on ${cpuInfo().threads} hardware threads; cells of ${seconds} s or ${maxRequests} requests; deadline ${values.deadline} s`);
try {
  await load(serve, 100, 8, { seconds: 2 }); // warm-up: JIT, the plan's buffers, the rate estimate of admission control

  if (sections.has('matrix')) {
    const rows = [];
    let before = await offline.measure();
    for (const n of list(values.n)) {
      for (const connections of list(values.concurrency)) {
        const cell = await load(serve, n, connections, { seconds: cellSeconds(n, connections, before.rate) });
        const after = await offline.measure();
        rows.push({ cell, offline: mean(before, after) });
        before = after;
      }
    }
    printCells('matrix: arq serve against the offline sampling rate measured just before and after each cell', rows);
  }

  if (sections.has('key')) {
    const wrapper = await spawnTarget('plain wrapper', wrapperArgs);
    targets.push(wrapper);
    await load(wrapper, 100, 8, { seconds: 2 });
    const rows = [];
    const summary: string[] = [];
    // The wrapper runs each n = 100 request as one native call of batch 100: what such a batch costs offline.
    const offline100 = new Offline(100);
    await offline100.measure(0.5);
    for (let r = 0; r < Number(values.repeats); r++) {
      const before = await offline.measure();
      const at1000 = await load(serve, 1000, 32, { seconds: cellSeconds(1000, 32, before.rate) });
      const middle = await offline.measure();
      const pair = r % 2 === 0 ? [serve, wrapper] : [wrapper, serve];
      const first = await load(pair[0], 100, 32, { seconds: cellSeconds(100, 32, middle.rate) });
      const second = await load(pair[1], 100, 32, { seconds: cellSeconds(100, 32, middle.rate) });
      const after = await offline.measure();
      const small = await offline100.measure();
      const [served, plain] = r % 2 === 0 ? [first, second] : [second, first];
      rows.push({ cell: at1000, offline: mean(before, middle) }, { cell: served, offline: mean(middle, after) }, { cell: plain, offline: mean(middle, after) });
      summary.push(`repeat ${r + 1}: n=1000 c=32 served/offline ${percent(at1000.samplesPerSecond / mean(before, middle).rate)} (CPU ${percent(mean(before, middle).cpuPerSample / at1000.cpuPerSample)}); `
        + `n=100 c=32 arq serve/plain wrapper ${fixed(served.requestsPerSecond / plain.requestsPerSecond, 2)}x (CPU per sample ${fixed(plain.cpuPerSample / served.cpuPerSample, 2)}x); `
        + `offline CPU per sample at batch 100 ${fixed(small.cpuPerSample)} us against ${fixed(after.cpuPerSample)} us at batch ${batch}`);
    }
    printCells('key points, repeated', rows);
    console.log(summary.join('\n'));
  }

  if (sections.has('overload') || sections.has('memory')) {
    const deadline = Number(values['overload-deadline']);
    const server = await spawnTarget('arq serve (overload)', serveArgs(values['overload-deadline'], Number(values['overload-n'])));
    targets.push(server);
    const overload = async (n: number, runSeconds: number, onTick?: () => Promise<void>) => {
      await load(server, n, 8, { seconds: 2 });
      const capacity = (await offline.measure()).rate / n;
      // Admitted requests hold a connection up to the deadline; refusals return at once.
      const connections = Math.ceil(1.5 * capacity * deadline) + 32;
      const timer = onTick ? setInterval(() => void onTick(), 10_000) : undefined;
      const cell = await load(server, n, connections, { seconds: runSeconds, rate: 4 * capacity, maxRequests: Math.ceil(5 * capacity * runSeconds) });
      clearInterval(timer);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      const reasons = metrics.split('\n').filter((l) => l.startsWith('arq_refusals_total{')).map((l) => l.replace('arq_refusals_total', '')).join(' ');
      console.log(`n=${n}: engine capacity ${fixed(capacity, 1)} req/s (offline rate / n); offered ${fixed(cell.offered, 1)} req/s (${fixed(cell.offered / capacity, 1)}x) `
        + `over ${connections} connections for ${runSeconds} s: ${cell.ok} answered (${fixed(cell.requestsPerSecond, 1)} req/s, ${percent(cell.requestsPerSecond / capacity)} of capacity), `
        + `${cell.refused} refused with 503 (${percent(cell.refused / (cell.ok + cell.refused))}), ${cell.errors} errors; 2xx p50 ${fixed(cell.p50)} ms, p99 ${fixed(cell.p99)} ms `
        + `(${fixed(cell.p99 / (1000 * deadline), 2)}x the ${deadline} s deadline), max ${fixed(cell.maxOk)} ms; p99 of all answers ${fixed(cell.p99All)} ms; refusals so far ${reasons}`);
    };
    if (sections.has('overload')) {
      console.log(`\noverload: 4x the sustained rate, deadline ${deadline} s`);
      await overload(Number(values['overload-n']), Number(values['overload-seconds']));
    }
    if (sections.has('memory')) {
      console.log(`\nmemory: 4x overload at n=100 for ${values['memory-seconds']} s, the server's resident memory and V8 heap every 10 s`);
      const heap = async () => Number((await (await fetch(`${server.url}/metrics`)).text()).split('\n').find((l) => l.startsWith('nodejs_heap_size_used_bytes '))!.split(' ')[1]) / 2 ** 20;
      const series: string[] = [`start ${fixed(residentMiB(server.pid))}/${fixed(await heap())}`];
      let elapsed = 0;
      await overload(100, Number(values['memory-seconds']), async () => {
        elapsed += 10;
        series.push(`${elapsed}s ${fixed(residentMiB(server.pid))}/${fixed(await heap())}`);
      });
      series.push(`end ${fixed(residentMiB(server.pid))}/${fixed(await heap())}`);
      console.log(`RSS/heap MiB: ${series.join(', ')}`);
    }
  }
} finally {
  for (const target of targets) await target.stop();
}
