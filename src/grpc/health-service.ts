import { status, type ServerWritableStream, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { VigilError } from '../errors.js';
import { unary, type CallDeps } from './calls.js';
import { HEALTH_SERVICE, INFERENCE_SERVICE } from './proto.js';

/**
 * grpc.health.v1.Health, for Kubernetes gRPC probes, grpc_health_probe and load balancers.
 * What each service name answers:
 * - "" (the whole server) and "inference.GRPCInferenceService": SERVING when the server is
 *   ready (every local model loaded and warmed up, not draining: what /ready says), else
 *   NOT_SERVING. Use it for readiness probes.
 * - "liveness": SERVING whenever the process answers (what /alive says). Use it for liveness
 *   probes, so a server still loading its models is not restarted.
 * Any other name: NOT_FOUND from Check, SERVICE_UNKNOWN from Watch, as the protocol says.
 */

export type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

export const LIVENESS_SERVICE = 'liveness';

class UnknownService extends VigilError {
  constructor(service: string) {
    super(404, 'unknown_service', `no health status for service "${service}": ask about "", "${INFERENCE_SERVICE}" or "${LIVENESS_SERVICE}"`);
  }
}

/** How often Watch re-reads the status; readiness changes at load, reload and drain only. */
const WATCH_INTERVAL_MS = 1000;

export function healthService(ready: () => boolean, deps: CallDeps): { implementation: UntypedServiceImplementation; closeWatches(): void } {
  const statusOf = (service: string): ServingStatus => {
    if (service === LIVENESS_SERVICE) return 'SERVING';
    if (service === '' || service === INFERENCE_SERVICE) return ready() ? 'SERVING' : 'NOT_SERVING';
    return 'SERVICE_UNKNOWN';
  };
  const watches = new Set<ServerWritableStream<{ service?: string }, { status: ServingStatus }>>();

  const implementation: UntypedServiceImplementation = {
    Check: unary<{ service?: string }, { status: ServingStatus }>(deps, HEALTH_SERVICE, 'Check', (request) => {
      const service = request.service ?? '';
      const answer = statusOf(service);
      if (answer === 'SERVICE_UNKNOWN') throw new UnknownService(service);
      return { status: answer };
    }),
    Watch: (call: ServerWritableStream<{ service?: string }, { status: ServingStatus }>) => {
      const service = call.request.service ?? '';
      deps.metrics.started.inc({ grpc_service: HEALTH_SERVICE, grpc_method: 'Watch', grpc_type: 'server_stream' });
      deps.metrics.inFlight.inc();
      watches.add(call);
      let last: ServingStatus | undefined;
      const send = () => {
        const now = statusOf(service);
        if (now !== last) {
          last = now;
          call.write({ status: now });
        }
      };
      send();
      const timer = setInterval(send, WATCH_INTERVAL_MS);
      timer.unref();
      let done = false;
      const stop = (code: status) => {
        if (done) return;
        done = true;
        clearInterval(timer);
        watches.delete(call);
        deps.metrics.inFlight.dec();
        deps.metrics.finished(HEALTH_SERVICE, 'Watch', status[code] ?? 'UNKNOWN', 'server_stream').count();
      };
      call.on('cancelled', () => stop(status.CANCELLED));
      call.on('finish', () => stop(status.OK));
    },
  };
  return {
    implementation,
    /** Ends every Watch stream (at shutdown, after they were sent NOT_SERVING). */
    closeWatches() {
      for (const call of watches) {
        call.write({ status: 'NOT_SERVING' });
        call.end();
      }
    },
  };
}
