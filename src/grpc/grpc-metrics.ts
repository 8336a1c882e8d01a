import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { boundCounter, boundHistogram } from '../observability/bound-metrics.js';
import { LATENCY_BUCKETS } from '../observability/metrics.js';

/**
 * Status codes whose `grpc_server_handled_total` series exist, at 0, for every method from
 * start-up: OK and the server errors the gRPC SLO counts (deploy/prometheus/rules/recording.yml).
 * Prometheus counts a series from its first scrape, so the calls that create a series are
 * invisible to rate(): the first refusals of a burst would not burn the budget. The caller's
 * mistakes (INVALID_ARGUMENT, NOT_FOUND, ...) are left to appear when they happen, keeping the
 * series count at methods x 7.
 */
export const CODES_FROM_START = ['OK', 'UNKNOWN', 'INTERNAL', 'UNAVAILABLE', 'DEADLINE_EXCEEDED', 'DATA_LOSS', 'UNIMPLEMENTED'] as const;

/**
 * The golden signals of the gRPC listener, named as the gRPC ecosystem's Prometheus
 * interceptors name them (grpc_server_handled_total, grpc_server_handling_seconds), so
 * dashboards written for those work here. Labels are bounded: the services and methods Vigil
 * declares (grpc-js answers unknown methods itself, before any handler) and the 17 status codes.
 */
export class GrpcMetrics {
  readonly started: Counter<'grpc_service' | 'grpc_method' | 'grpc_type'>;
  readonly handled: Counter<'grpc_service' | 'grpc_method' | 'grpc_type' | 'grpc_code'>;
  readonly handling: Histogram<'grpc_service' | 'grpc_method' | 'grpc_type' | 'grpc_code'>;
  readonly inFlight: Gauge;
  private readonly series = new Map<string, { count: () => void; observe: (seconds: number) => void }>();

  constructor(registry: Registry) {
    this.started = new Counter({
      name: 'grpc_server_started_total',
      help: 'gRPC calls started, by service, method and type.',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_type'] as const,
      registers: [registry],
    });
    this.handled = new Counter({
      name: 'grpc_server_handled_total',
      help: 'gRPC calls completed, by service, method, type and status code (OK, INVALID_ARGUMENT, UNAVAILABLE, ...).',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'] as const,
      registers: [registry],
    });
    this.handling = new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Time from a gRPC call received to its status sent, by service, method, type and status code.',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
    this.inFlight = new Gauge({ name: 'grpc_server_in_flight', help: 'gRPC calls being handled now.', registers: [registry] });
  }

  /** Creates a method's handled series for CODES_FROM_START at 0 (see there why). */
  declare(service: string, method: string, type: 'unary' | 'server_stream' = 'unary'): void {
    for (const code of CODES_FROM_START) this.handled.inc({ grpc_service: service, grpc_method: method, grpc_type: type, grpc_code: code }, 0);
  }

  /** The bound counter and histogram of one (service, method, code), made once. */
  finished(service: string, method: string, code: string, type: 'unary' | 'server_stream' = 'unary'): { count: () => void; observe: (seconds: number) => void } {
    const key = `${service}/${method} ${type} ${code}`;
    let series = this.series.get(key);
    if (!series) {
      const labels = Object.freeze({ grpc_service: service, grpc_method: method, grpc_type: type, grpc_code: code });
      const count = boundCounter(this.handled, labels);
      series = { count: () => count(), observe: boundHistogram(this.handling, labels) };
      this.series.set(key, series);
    }
    return series;
  }
}
