/**
 * The server a user writes without `arq serve` (the baseline of bench/serve-load.ts): node:http around
 * SmoothedClassifier.predict, one library call per request, no batching across requests, no limits. Run in a child
 * process of its own so that its CPU time can be read apart from the load generator's:
 *
 *   node --import tsx bench/support/plain-wrapper.ts --model M --sigma S --batch B --threads T
 *
 * Prints "on http://127.0.0.1:PORT" on stderr once listening; GET /healthz answers the requests in flight.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { loadModel } from '../../src/onnx/model.js';
import { SmoothedClassifier } from '../../src/smoothing/smoothed.js';

const { values } = parseArgs({ options: { model: { type: 'string' }, sigma: { type: 'string' }, batch: { type: 'string' }, threads: { type: 'string' } } });
const classifier = await SmoothedClassifier.create(await loadModel(values.model!), { sigma: Number(values.sigma), batch: Number(values.batch), threads: Number(values.threads) });
let inFlight = 0;
const server = createServer((request, response) => {
  if (request.method === 'GET') {
    response.end(JSON.stringify({ inProgress: inFlight }));
    return;
  }
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const { image, n } = JSON.parse(Buffer.concat(chunks).toString()) as { image: number[]; n: number };
    inFlight++;
    classifier.predict(Float32Array.from(image), { n }).then(
      (result) => response.end(JSON.stringify({ prediction: result.prediction })),
      (error: Error) => {
        response.statusCode = 500;
        response.end(error.message);
      },
    ).finally(() => inFlight--);
  });
});
server.listen(0, '127.0.0.1', () => process.stderr.write(`plain wrapper on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`));
process.once('SIGTERM', () => {
  server.close();
  void classifier.close().then(() => process.exit(0));
});
