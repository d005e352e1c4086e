/**
 * The HTTP contract of `arq serve`: JSON schemas of the request bodies and responses (Fastify validates bodies with
 * them and answers 400 naming the offending field) and the OpenAPI description built from the same objects.
 */
import { IMAGE_VALUE_RANGE } from '../util/check.js';

export interface ServeLimits {
  /** Largest n (noise samples of PREDICT, estimation samples of CERTIFY). */
  readonly maxN: number;
  /** Largest n0 (selection samples of CERTIFY). */
  readonly maxN0: number;
}

/** The image, as a JSON array of floats or as base64 bytes; sampling settings come with it. */
function imageFields(inputSize: number) {
  return {
    image: { type: 'array', items: { type: 'number' }, minItems: inputSize, maxItems: inputSize, description: `${inputSize} floats, NCHW, in the model's input space ([0,1] images; values outside [${IMAGE_VALUE_RANGE.min}, ${IMAGE_VALUE_RANGE.max}] are refused)` },
    base64: { type: 'string', pattern: '^[A-Za-z0-9+/]*={0,2}$', maxLength: 4 * Math.ceil((4 * inputSize) / 3), description: 'the image as base64 bytes (instead of `image`), in `dtype`' },
    dtype: { type: 'string', enum: ['float32', 'uint8'], default: 'float32', description: 'of `base64`: little-endian float32 values, or uint8 pixels scaled by 1/255' },
    alpha: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.001, description: 'failure probability' },
  };
}

export function predictBody(inputSize: number, limits: ServeLimits) {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...imageFields(inputSize),
      n: { type: 'integer', minimum: 1, maximum: limits.maxN, default: Math.min(1000, limits.maxN), description: 'noise samples' },
    },
  } as const;
}

export function certifyBody(inputSize: number, limits: ServeLimits) {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...imageFields(inputSize),
      n0: { type: 'integer', minimum: 1, maximum: limits.maxN0, default: Math.min(100, limits.maxN0), description: 'selection samples' },
      n: { type: 'integer', minimum: 1, maximum: limits.maxN, default: Math.min(10_000, limits.maxN), description: 'estimation samples' },
    },
  } as const;
}

const common = {
  prediction: { type: 'integer', description: 'the class, or -1 (abstain)' },
  samples: { type: 'integer' },
  seconds: { type: 'number' },
  stream: { type: 'integer', description: 'the noise stream this request used under the server\'s secret key' },
};

export const predictReply = {
  type: 'object',
  properties: { ...common, pValue: { type: 'number' }, counts: { type: 'array', items: { type: 'integer' } } },
} as const;

export const certifyReply = {
  type: 'object',
  properties: {
    ...common,
    radius: { type: 'number', description: 'certified L2 radius (0 when abstaining)' },
    pALower: { type: 'number' }, classA: { type: 'integer' }, countA: { type: 'integer' },
  },
} as const;

export const errorReply = {
  type: 'object',
  properties: { statusCode: { type: 'integer' }, error: { type: 'string' }, message: { type: 'string' } },
} as const;

/** The OpenAPI 3.1 description of the server's routes. */
export function openApi(inputSize: number, limits: ServeLimits, info: { model: string; engine: string; sigma: number }) {
  const json = (schema: object) => ({ content: { 'application/json': { schema } } });
  const failures = {
    400: { description: 'invalid body (the message names the field)', ...json(errorReply) },
    413: { description: 'body too large', ...json(errorReply) },
    503: { description: 'queue full, deadline passed or shutting down; see Retry-After', ...json(errorReply) },
  };
  return {
    openapi: '3.1.0',
    info: { title: 'arq serve', version: '1', description: `Certified predictions of ${info.model} (engine ${info.engine}) smoothed at sigma ${info.sigma}` },
    paths: {
      '/predict': { post: { summary: 'Cohen PREDICT: the smoothed class or -1 (abstain)', requestBody: { required: true, ...json(predictBody(inputSize, limits)) }, responses: { 200: { description: 'the prediction', ...json(predictReply) }, ...failures } } },
      '/certify': { post: { summary: 'Cohen CERTIFY: the class and its certified L2 radius, or -1', requestBody: { required: true, ...json(certifyBody(inputSize, limits)) }, responses: { 200: { description: 'the certificate', ...json(certifyReply) }, ...failures } } },
      '/healthz': { get: { summary: 'liveness', responses: { 200: { description: 'serving' }, 503: { description: 'shutting down' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: { description: 'text exposition format', content: { 'text/plain': {} } } } } },
      '/openapi.json': { get: { summary: 'this description', responses: { 200: { description: 'OpenAPI 3.1' } } } },
    },
  };
}
