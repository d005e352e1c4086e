import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { FloatPlan } from '../../src/engine/float-plan.js';
import { makeDataset } from '../../src/data/index.js';
import { calibrate } from '../../src/quant/calibrate.js';
import { IntPlan } from '../../src/engine/int-plan.js';
import { uniformPolicy } from '../../src/quant/policy.js';
import { createServer, type ServeOptions } from '../../src/serve/server.js';
import { certify, predict } from '../../src/smoothing/certify.js';
import { nativeSampler } from '../../src/smoothing/sampler.js';
import { loadFixture } from '../support/fixtures.js';

// The real server on a free loopback port. sigma 1 keeps class counts noisy, so answers drawn from the wrong noise
// would differ from the unbatched reference.
const model = loadFixture('mnist_cnn');
const images = [0, 1, 2, 3, 4, 5].map((k) => Array.from({ length: 784 }, (_, i) => ((i * (k + 3)) % 29) / 29));

async function start(options: Partial<ServeOptions> = {}): Promise<{ app: FastifyInstance; url: string }> {
  const app = await createServer({ model, sigma: 1, threads: 2, batch: 64, ...options });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url: address };
}

/** A JSON reply body (the shapes are the server's schemas; the assertions check them). */
async function json(reply: Response): Promise<any> {
  return reply.json();
}

function post(url: string, path: string, body: unknown, signal?: AbortSignal) {
  return fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
}

async function metric(url: string, line: string): Promise<number> {
  const text = await (await fetch(url + '/metrics')).text();
  const found = text.split('\n').find((l) => l.startsWith(line + ' '));
  return found ? Number(found.slice(line.length + 1)) : 0;
}

async function settled(url: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if ((await json(await fetch(url + '/healthz'))).inProgress === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('requests still in progress');
}

describe('arq serve: requests and validation', () => {
  let server: { app: FastifyInstance; url: string };
  beforeAll(async () => {
    server = await start({ seed: 42, maxN: 5000, maxN0: 500 });
  });
  afterAll(() => server.app.close());

  test('concurrent requests, batched across requests, answer exactly what unbatched sampling of their stream answers', async () => {
    const plan = FloatPlan.build(model.graph);
    const alone = nativeSampler(plan, 784, { sigma: 1, seed: 42, batch: 7, threads: 1 });
    const replies = await Promise.all(images.map((image, k) => (k % 2 === 0
      ? post(server.url, '/predict', { image, n: 120 + 10 * k })
      : post(server.url, '/certify', { image, n0: 20, n: 150, alpha: 0.01 })).then(async (r) => ({ status: r.status, body: await json(r) }))));
    const streams = new Set<number>();
    for (const [k, reply] of replies.entries()) {
      expect(reply.status).toBe(200);
      streams.add(reply.body.stream);
      const image = Float32Array.from(images[k]);
      if (k % 2 === 0) {
        const expected = await predict(alone, image, reply.body.stream, { n: 120 + 10 * k, alpha: 0.001 });
        expect(reply.body.counts).toEqual([...expected.counts]);
        expect(reply.body.prediction).toBe(expected.prediction);
        expect(reply.body.pValue).toBe(expected.pValue);
      } else {
        const expected = await certify(alone, image, reply.body.stream, { n0: 20, n: 150, alpha: 0.01 });
        expect(reply.body).toMatchObject({ prediction: expected.prediction, radius: expected.radius, pALower: expected.pALower, classA: expected.classA, countA: expected.countA, samples: 170 });
      }
    }
    expect(streams.size).toBe(images.length);
  });

  test('the image may come as base64 uint8 or float32 bytes', async () => {
    const pixels = Uint8Array.from({ length: 784 }, (_, i) => (i * 7) % 256);
    const floats = Float32Array.from(pixels, (p) => p / 255);
    const a = await json(await post(server.url, '/predict', { base64: Buffer.from(pixels).toString('base64'), dtype: 'uint8', n: 50 }));
    const b = await json(await post(server.url, '/predict', { base64: Buffer.from(floats.buffer).toString('base64'), n: 50 }));
    const plan = FloatPlan.build(model.graph);
    const alone = nativeSampler(plan, 784, { sigma: 1, seed: 42, batch: 50, threads: 1 });
    expect(a.counts).toEqual([...(await predict(alone, floats, a.stream, { n: 50, alpha: 0.001 })).counts]);
    expect(b.counts).toEqual([...(await predict(alone, floats, b.stream, { n: 50, alpha: 0.001 })).counts]);
  });

  test.each([
    ['body/n must be >= 1', { image: images[0], n: 0 }],
    ['body/n must be <= 5000', { image: images[0], n: 5001 }],
    ['body/n must be integer', { image: images[0], n: 1.5 }],
    ['body/n must be integer', { image: images[0], n: '10' }],
    ['body/alpha must be < 1', { image: images[0], alpha: 1 }],
    ['body/alpha must be > 0', { image: images[0], alpha: 0 }],
    ['body/image must NOT have fewer than 784 items', { image: images[0].slice(1) }],
    ['body/image must NOT have more than 784 items', { image: [...images[0], 0] }],
    ['body/image/0 must be number', { image: images[0].map(String) }],
    ['body must NOT have additional properties', { image: images[0], extra: 1 }],
    ['give the image either as `image`', {}],
    ['give the image either as `image`', { image: images[0], base64: 'AAAA' }],
    ['body/base64: expected 3136 bytes (784 float32 values), got 3', { base64: 'AAAA' }],
    ['body/base64 must match pattern', { base64: 'not base64!' }],
    ['body/base64: expected image values in [-1, 2] (images are scaled to [0, 1]), got NaN at index 0', { base64: Buffer.from(new Float32Array(784).fill(Number.NaN).buffer).toString('base64') }],
    ['body/base64: expected image values in [-1, 2] (images are scaled to [0, 1]), got Infinity at index 783', { base64: Buffer.from(new Float32Array(784).fill(0.5).fill(Number.POSITIVE_INFINITY, 783).buffer).toString('base64') }],
    ['body/image: expected image values in [-1, 2] (images are scaled to [0, 1]), got 255 at index 3', { image: images[0].map((v, i) => (i === 3 ? 255 : v)) }],
    ['body/image: expected image values in [-1, 2] (images are scaled to [0, 1]), got Infinity at index 0', { image: images[0].map((v, i) => (i === 0 ? 1e300 : v)) }],
    ['body/dtype must be equal to one of the allowed values', { base64: 'AAAA', dtype: 'int8' }],
  ])('predict is refused with 400: %s', async (message, body) => {
    const reply = await post(server.url, '/predict', body);
    expect(reply.status).toBe(400);
    expect((await json(reply)).message).toContain(message);
  });

  test('certify checks n0 against its limit', async () => {
    const reply = await post(server.url, '/certify', { image: images[0], n0: 501 });
    expect(reply.status).toBe(400);
    expect((await json(reply)).message).toBe('body/n0 must be <= 500');
  });

  test('a body over the size limit gets 413', async () => {
    const reply = await fetch(server.url + '/predict', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: images[0].map(() => 0.123456789012345) }) + ' '.repeat(40_000) });
    expect(reply.status).toBe(413);
    expect(await json(reply)).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
  });

  test('healthz, metrics and the OpenAPI description', async () => {
    expect((await json(await fetch(server.url + '/healthz'))).status).toBe('ok');
    const metrics = await (await fetch(server.url + '/metrics')).text();
    for (const name of ['arq_requests_total', 'arq_request_duration_seconds_bucket', 'arq_samples_total', 'arq_samples_per_second', 'arq_queue_requests', 'arq_queue_samples', 'arq_abstentions_total', 'arq_refusals_total']) {
      expect(metrics).toContain(name);
    }
    expect(await metric(server.url, 'arq_requests_total{route="predict",status="400"}')).toBeGreaterThan(0);
    expect(await metric(server.url, 'arq_samples_total')).toBeGreaterThan(0);
    expect(await metric(server.url, 'arq_request_duration_seconds_count{route="predict",status="200"}')).toBeGreaterThan(0);
    const api = await json(await fetch(server.url + '/openapi.json'));
    expect(api.openapi).toBe('3.1.0');
    expect(Object.keys(api.paths)).toEqual(expect.arrayContaining(['/predict', '/certify', '/healthz', '/metrics']));
    expect(api.paths['/predict'].post.requestBody.content['application/json'].schema.properties.n.maximum).toBe(5000);
  });
});

describe('arq serve: the integer engine', () => {
  test('serves the integer plan of a policy, batched answers equal to that plan sampled alone', async () => {
    const calibrationImages = Float32Array.from({ length: 16 * 784 }, (_, i) => ((i * 40503) % 1000) / 1000);
    const calibration = await calibrate(model.graph, makeDataset({ name: 'calibration', shape: [1, 28, 28], images: calibrationImages, labels: new Int32Array(16) }), { sigma: 1, count: 16, threads: 2 });
    const policy = uniformPolicy(model.graph, model.sha256, 4, 8);
    const { app, url } = await start({ engine: 'int', quantization: { policy, calibration }, seed: 9 });
    const replies = await Promise.all(images.slice(0, 3).map((image) => post(url, '/predict', { image, n: 150 }).then(json)));
    const alone = nativeSampler(IntPlan.build(model.graph, policy, calibration), 784, { sigma: 1, seed: 9, batch: 150, threads: 1 });
    const floatAlone = nativeSampler(FloatPlan.build(model.graph), 784, { sigma: 1, seed: 9, batch: 150, threads: 1 });
    let differsFromFloat = false;
    for (const [k, reply] of replies.entries()) {
      const image = Float32Array.from(images[k]);
      expect(reply.counts).toEqual([...(await predict(alone, image, reply.stream, { n: 150, alpha: 0.001 })).counts]);
      differsFromFloat ||= JSON.stringify(reply.counts) !== JSON.stringify([...(await predict(floatAlone, image, reply.stream, { n: 150, alpha: 0.001 })).counts]);
    }
    expect(differsFromFloat).toBe(true);
    await app.close();
  });
});

describe('arq serve: noise keys', () => {
  test('servers started without a seed smooth the same request with different noise', async () => {
    const counts: number[][] = [];
    for (let i = 0; i < 2; i++) {
      const { app, url } = await start();
      const body = await json(await post(url, '/predict', { image: images[1], n: 400 }));
      expect(body.stream).toBe(0);
      counts.push(body.counts);
      await app.close();
    }
    expect(counts[0]).not.toEqual(counts[1]);
  });
});

describe('arq serve: backpressure and cancellation', () => {
  test('a full queue answers 503 with Retry-After; admitted requests are answered', async () => {
    const { app, url } = await start({ maxQueue: 2 });
    const replies = await Promise.all(Array.from({ length: 8 }, (_, k) => post(url, '/predict', { image: images[k % 6], n: 300 })));
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
    for (const reply of replies.filter((r) => r.status === 503)) {
      expect(Number(reply.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((await json(reply)).message).toMatch(/requests in progress|deadline/);
    }
    expect(await metric(url, 'arq_refusals_total{reason="queue_full"}')).toBe(statuses.filter((s) => s === 503).length);
    await app.close();
  });

  test('a request that the queued samples would keep past half its deadline is refused with 503 at once', async () => {
    const { app, url } = await start({ deadlineMs: 4000, maxN: 10_000_000, shutdownGraceMs: 0 });
    const slow = post(url, '/predict', { image: images[0], n: 10_000_000 });
    // The first native calls of the slow request measure the sampling rate; 10 million samples take far longer.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const refused = await post(url, '/predict', { image: images[1], n: 10 });
    expect(refused.status).toBe(503);
    expect((await json(refused)).message).toBe('the queued samples would take longer than 2000 ms, 50% of the 4000 ms deadline; retry later');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(2);
    expect(await metric(url, 'arq_refusals_total{reason="queue_full"}')).toBe(1);
    await app.close();
    expect((await slow).status).toBe(503);
  });

  test('a full server refuses before it reads the body', async () => {
    const { app, url } = await start({ maxQueue: 1, maxN: 10_000_000, shutdownGraceMs: 0 });
    const slow = post(url, '/predict', { image: images[0], n: 10_000_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const refused = await post(url, '/predict', { image: 'not even an image', n: 0 });
    expect(refused.status).toBe(503);
    expect((await json(refused)).message).toBe('1 requests in progress, the most this server queues; retry later');
    await app.close();
    expect((await slow).status).toBe(503);
  });

  test('a request past its deadline is cancelled and answered 503', async () => {
    const { app, url } = await start({ deadlineMs: 100, maxN: 10_000_000 });
    const reply = await post(url, '/predict', { image: images[0], n: 10_000_000 });
    expect(reply.status).toBe(503);
    expect((await json(reply)).message).toBe('not answered within the 100 ms deadline');
    await settled(url);
    expect(await metric(url, 'arq_refusals_total{reason="deadline"}')).toBe(1);
    expect(await metric(url, 'arq_samples_total')).toBeLessThan(10_000_000);
    await app.close();
  });

  test('a client that disconnects stops its sampling', async () => {
    const { app, url } = await start({ maxN: 10_000_000 });
    const controller = new AbortController();
    const request = post(url, '/predict', { image: images[0], n: 10_000_000 }, controller.signal);
    setTimeout(() => controller.abort(), 150);
    await expect(request).rejects.toThrow();
    await settled(url);
    expect(await metric(url, 'arq_refusals_total{reason="disconnect"}')).toBe(1);
    // The native call that was running when the client left ends after its current batch; nothing is drawn after it.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const drawn = await metric(url, 'arq_samples_total');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await metric(url, 'arq_samples_total')).toBe(drawn);
    expect(drawn).toBeLessThan(10_000_000);
    await app.close();
  });

  test('closing finishes in-flight requests within the grace period and refuses the rest with 503', async () => {
    const { app, url } = await start({ maxN: 10_000_000, shutdownGraceMs: 1000 });
    const quick = post(url, '/predict', { image: images[0], n: 100 });
    const slow = post(url, '/predict', { image: images[1], n: 10_000_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await app.close();
    expect((await quick).status).toBe(200);
    const refused = await slow;
    expect(refused.status).toBe(503);
    expect((await json(refused)).message).toBe('the server shut down before answering');
  });
});
