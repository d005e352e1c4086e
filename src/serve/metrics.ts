/** The server's Prometheus metrics (prom-client), in a registry of its own so that several servers can coexist. */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export type Route = 'predict' | 'certify';
/** Why a request got no answer: the queue was full, its deadline passed, its client left, the server closed. */
export type Refusal = 'queue_full' | 'deadline' | 'disconnect' | 'shutdown';

export class ServeMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'arq_requests_total', help: 'requests answered, by route and status code', labelNames: ['route', 'status'], registers: [this.registry] });
  readonly latency = new Histogram({
    name: 'arq_request_duration_seconds', help: 'time from the request to its answer, by route and status code', labelNames: ['route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [this.registry],
  });
  readonly samples = new Counter({ name: 'arq_samples_total', help: 'noise samples classified', registers: [this.registry] });
  readonly samplesPerSecond = new Gauge({ name: 'arq_samples_per_second', help: 'sampling rate of the latest native calls', registers: [this.registry] });
  readonly queueRequests = new Gauge({ name: 'arq_queue_requests', help: 'requests admitted and not yet answered', registers: [this.registry] });
  readonly queueSamples = new Gauge({ name: 'arq_queue_samples', help: 'noise samples queued and not yet drawn', registers: [this.registry] });
  readonly abstentions = new Counter({ name: 'arq_abstentions_total', help: 'answers that abstained, by route', labelNames: ['route'], registers: [this.registry] });
  readonly refusals = new Counter({ name: 'arq_refusals_total', help: 'requests given no answer, by reason', labelNames: ['reason'], registers: [this.registry] });

  constructor() {
    // The process's memory, CPU and event-loop lag, under prom-client's standard names (process_resident_memory_bytes, ...).
    collectDefaultMetrics({ register: this.registry });
  }
}
