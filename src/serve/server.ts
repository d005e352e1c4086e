/**
 * `arq serve` as a library: a Fastify server of certified predictions (Cohen PREDICT and CERTIFY of smoothing/
 * certify.ts) over one native plan. Requests share the engine's batches through a StreamBatcher; each request gets
 * its own noise stream under a key drawn from the operating system's cryptographic generator, so nobody can
 * predict the noise a request will be smoothed with.
 *
 * Backpressure: a request is admitted only while fewer than `maxQueue` requests are in progress and the samples
 * still to draw for the admitted ones and for it, at the measured sampling rate, take at most half its deadline
 * (ADMIT_SHARE); otherwise it gets 503 with Retry-After. An admitted request is cancelled (its remaining samples
 * skipped natively) when its client disconnects or its deadline passes (503). Closing the server refuses new
 * requests, lets in-flight ones finish within `shutdownGraceMs`, then cancels the rest with 503.
 */
import { STATUS_CODES } from 'node:http';
import path from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { LoadedModel } from '../onnx/model.js';
import type { Calibration } from '../quant/calibrate.js';
import type { Policy } from '../quant/policy.js';
import { buildNativePlan } from '../engine/classifier.js';
import { shapeSize } from '../graph/ir.js';
import { cpuInfo } from '../native.js';
import { ABSTAIN, certify, predict } from '../smoothing/certify.js';
import { randomNoiseSeed, type Sampler } from '../smoothing/sampler.js';
import { NoiseStreams } from '../smoothing/streams.js';
import { integerInRange, oneOf } from '../util/check.js';
import { ArqError } from '../util/errors.js';
import { StreamBatcher } from './batcher.js';
import { decodeImage, type ImageFields } from './image.js';
import { ServeMetrics, type Refusal, type Route } from './metrics.js';
import { certifyBody, certifyReply, openApi, predictBody, predictReply, type ServeLimits } from './schemas.js';
import { checkBatch, checkSigma, checkThreads } from '../engine/settings.js';

export interface ServeOptions {
  readonly model: LoadedModel;
  /** 'float' (native fp32, default) or 'int' (the integer plan of `quantization`). */
  readonly engine?: 'float' | 'int';
  readonly quantization?: { readonly policy: Policy; readonly calibration: Calibration };
  /** Noise standard deviation in the model's input space. */
  readonly sigma: number;
  /**
   * Noise key, for reproducible tests only: a server must draw its noise from a key nobody knows (the default, a
   * fresh 64-bit key from the operating system's cryptographic generator).
   */
  readonly seed?: number | bigint;
  /** Noisy copies per classifier call (default 400). */
  readonly batch?: number;
  /** Threads (default: all cores). */
  readonly threads?: number;
  /** Most samples per native call, over all requests it serves (default 4 batches). */
  readonly callSamples?: number;
  /** Largest n of a request (default 100,000) and largest n0 (default 10,000). */
  readonly maxN?: number;
  readonly maxN0?: number;
  /**
   * A request not answered within this many milliseconds is cancelled and gets 503 (default 10,000); one is admitted
   * only while the queued work takes at most half of it.
   */
  readonly deadlineMs?: number;
  /** Most requests in progress at once; more get 503 (default 64). */
  readonly maxQueue?: number;
  /** Largest request body in bytes (default: room for the image as a JSON array). */
  readonly bodyLimit?: number;
  /** On close, how long in-flight requests may take before they are cancelled (default: the deadline). */
  readonly shutdownGraceMs?: number;
  /** Fastify's logger (default off). */
  readonly logger?: boolean;
}

/**
 * A request is admitted only when the samples queued ahead of it, and its own, take at most this share of the
 * deadline at the measured sampling rate. The rest of the deadline absorbs the rate's swings (other processes on the
 * machine, the event loop's own work under a flood of requests), so admitted requests rarely run out of time and
 * waste the samples already drawn for them; under sustained overload a queue of half a deadline still keeps the
 * engine busy.
 */
const ADMIT_SHARE = 0.5;

/** Why a request gets no answer; becomes 503 with Retry-After. */
class RefusalError extends Error {
  constructor(readonly reason: Refusal, message: string, readonly retryAfter: number) {
    super(message);
  }
}

type PredictBody = ImageFields & { n: number; alpha: number };
type CertifyBody = PredictBody & { n0: number };

export async function createServer(options: ServeOptions): Promise<FastifyInstance> {
  const engine = oneOf('engine', options.engine ?? 'float', ['float', 'int'] as const);
  const sigma = checkSigma(options.sigma);
  const batch = checkBatch(options.batch ?? 400);
  const threads = checkThreads(options.threads ?? cpuInfo().threads);
  const callSamples = integerInRange('callSamples', options.callSamples ?? 4 * batch, 1, 2 ** 31);
  const limits: ServeLimits = { maxN: integerInRange('maxN', options.maxN ?? 100_000, 1, 2 ** 31), maxN0: integerInRange('maxN0', options.maxN0 ?? 10_000, 1, 2 ** 31) };
  const deadlineMs = integerInRange('deadlineMs', options.deadlineMs ?? 10_000, 1, 2 ** 31 - 1);
  const maxQueue = integerInRange('maxQueue', options.maxQueue ?? 64, 1, 1_000_000);
  const graceMs = integerInRange('shutdownGraceMs', options.shutdownGraceMs ?? deadlineMs, 0, 2 ** 31 - 1);
  const inputSize = shapeSize(options.model.graph.input.shape);
  const bodyLimit = integerInRange('bodyLimit', options.bodyLimit ?? 1024 + 32 * inputSize, 64, 2 ** 30);
  const seed = options.seed ?? randomNoiseSeed();

  const plan = await buildNativePlan(options.model, engine, options.quantization);
  const batcher = new StreamBatcher(plan, inputSize, { sigma, seed, batch, threads, callSamples });
  const metrics = new ServeMetrics();
  batcher.onCall = (samples) => {
    metrics.samples.inc(samples);
    metrics.samplesPerSecond.set(batcher.samplesPerSecond);
  };

  const streams = new NoiseStreams('this server', 'restart it (it draws a new key)');
  let closing = false;
  let unqueuedSamples = 0; // samples of the requests in progress not yet handed to the batcher (CERTIFY's n after n0)
  const inProgress = new Set<AbortController>();
  const idleWaiters: (() => void)[] = [];

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit,
    return503OnClosing: true,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false } },
  });

  app.setErrorHandler((error: Error & { statusCode?: number; validation?: unknown }, _request, reply) => {
    if (error instanceof RefusalError) {
      return reply.code(503).header('retry-after', String(error.retryAfter)).send({ statusCode: 503, error: 'Service Unavailable', message: error.message });
    }
    if (error instanceof ArqError) return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: error.message });
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) app.log.error(error);
    return reply.code(status).send({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message: status === 500 ? 'internal error' : error.message });
  });

  /** Samples the admitted requests still need: what the engine must draw before a request admitted now is done. */
  const backlog = () => batcher.queuedSamples + unqueuedSamples;
  const retryAfter = () => Math.max(1, Math.ceil(backlog() / Math.max(batcher.samplesPerSecond, 1)));

  /** Admits a request of `samples` samples or throws (and counts) a RefusalError; see the module comment. */
  function admit(samples: number): void {
    const refusal = refusalFor(samples);
    if (!refusal) return;
    metrics.refusals.inc({ reason: refusal.reason });
    throw refusal;
  }

  function refusalFor(samples: number): RefusalError | undefined {
    if (closing) return new RefusalError('shutdown', 'the server is shutting down', retryAfter());
    if (inProgress.size >= maxQueue) return new RefusalError('queue_full', `${inProgress.size} requests in progress, the most this server queues; retry later`, retryAfter());
    const rate = batcher.samplesPerSecond;
    if (rate > 0 && inProgress.size > 0 && (backlog() + samples) / rate > (ADMIT_SHARE * deadlineMs) / 1000) {
      return new RefusalError('queue_full', `the queued samples would take longer than ${ADMIT_SHARE * deadlineMs} ms, ${ADMIT_SHARE * 100}% of the ${deadlineMs} ms deadline; retry later`, retryAfter());
    }
    return undefined;
  }

  /** Runs one admitted request with its own stream, deadline and disconnect cancellation. */
  async function serve<T extends { prediction: number }>(route: Route, samples: number, request: FastifyRequest, reply: FastifyReply,
    run: (sampler: Sampler, stream: number, signal: AbortSignal) => Promise<T>): Promise<T & { stream: number }> {
    admit(samples);
    const stream = streams.take();
    const controller = new AbortController();
    inProgress.add(controller);
    unqueuedSamples += samples;
    let handed = 0;
    const timer = setTimeout(() => controller.abort(new RefusalError('deadline', `not answered within the ${deadlineMs} ms deadline`, retryAfter())), deadlineMs);
    const onClose = () => {
      if (!reply.raw.writableFinished) controller.abort(new RefusalError('disconnect', 'the client disconnected', 0));
    };
    reply.raw.once('close', onClose);
    request.log.debug({ stream }, 'admitted');
    try {
      const sampler = batcher.sampler(controller.signal);
      const result = await run({
        ...sampler,
        sample: (image, imageIndex, first, count, record) => {
          handed += count;
          unqueuedSamples -= count;
          return sampler.sample(image, imageIndex, first, count, record);
        },
      }, stream, controller.signal);
      if (result.prediction === ABSTAIN) metrics.abstentions.inc({ route });
      return { ...result, stream };
    } catch (error) {
      if (controller.signal.aborted && error === controller.signal.reason && error instanceof RefusalError) metrics.refusals.inc({ reason: error.reason });
      throw error;
    } finally {
      clearTimeout(timer);
      inProgress.delete(controller);
      unqueuedSamples -= samples - handed;
      if (inProgress.size === 0) for (const wake of idleWaiters.splice(0)) wake();
    }
  }

  const idle = () => (inProgress.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve)));

  // A full server refuses before reading the body: under overload, refusals must cost next to nothing.
  app.addHook('onRequest', async (request) => {
    if (request.method === 'POST' && (request.routeOptions.url === '/predict' || request.routeOptions.url === '/certify')) admit(1);
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url === '/predict' ? 'predict' : request.routeOptions.url === '/certify' ? 'certify' : undefined;
    if (!route) return;
    const status = String(reply.statusCode);
    metrics.requests.inc({ route, status });
    metrics.latency.observe({ route, status }, reply.elapsedTime / 1000);
  });

  app.addHook('preClose', async () => {
    closing = true;
    if (inProgress.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([idle(), new Promise<void>((resolve) => { timer = setTimeout(resolve, graceMs); })]);
      clearTimeout(timer);
    }
    const reason = new RefusalError('shutdown', 'the server shut down before answering', 1);
    for (const controller of inProgress) controller.abort(reason);
    await idle();
  });

  app.post<{ Body: PredictBody }>('/predict', { schema: { body: predictBody(inputSize, limits), response: { 200: predictReply } } }, async (request, reply) => {
    const image = decodeImage(request.body, inputSize);
    const { n, alpha } = request.body;
    const result = await serve('predict', n, request, reply, (sampler, stream, signal) => predict(sampler, image, stream, { n, alpha, signal, chunk: n }));
    return { prediction: result.prediction, pValue: result.pValue, counts: [...result.counts], samples: result.samples, seconds: result.seconds, stream: result.stream };
  });

  app.post<{ Body: CertifyBody }>('/certify', { schema: { body: certifyBody(inputSize, limits), response: { 200: certifyReply } } }, async (request, reply) => {
    const image = decodeImage(request.body, inputSize);
    const { n0, n, alpha } = request.body;
    const result = await serve('certify', n0 + n, request, reply, (sampler, stream, signal) => certify(sampler, image, stream, { n0, n, alpha, signal, chunk: Math.max(n0, n) }));
    return { prediction: result.prediction, radius: result.radius, pALower: result.pALower, classA: result.classA, countA: result.countA, samples: result.samples, seconds: result.seconds, stream: result.stream };
  });

  app.get('/healthz', async (_request, reply) => {
    if (closing) return reply.code(503).send({ status: 'shutting down' });
    return { status: 'ok', engine, kernels: plan.kernels, inProgress: inProgress.size };
  });

  app.get('/metrics', async (_request, reply) => {
    metrics.queueRequests.set(inProgress.size);
    metrics.queueSamples.set(batcher.queuedSamples);
    metrics.samplesPerSecond.set(batcher.samplesPerSecond);
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  const description = openApi(inputSize, limits, { model: path.basename(options.model.path), engine, sigma });
  app.get('/openapi.json', async () => description);

  return app;
}
