import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { ServerContext } from '../http/context.js';
import { GrpcMetrics } from './grpc-metrics.js';
import { healthService } from './health-service.js';
import { inferenceService } from './inference-service.js';
import { serviceDefinitions } from './proto.js';

/**
 * The gRPC listener (`--grpc-port`, default 8081 as KServe uses; 0 turns it off): the Open
 * Inference Protocol's GRPCInferenceService and the standard health service, on the same
 * registry, router, metrics and logger as the HTTP server.
 *
 * Messages larger than the body limit (--body-limit, the same bound REST has) are refused by
 * grpc-js with RESOURCE_EXHAUSTED before they are decoded.
 */

export interface GrpcListener {
  port: number;
  /** Health turns NOT_SERVING (already, with lifecycle.draining), new calls are refused, in-flight ones finish. */
  close(): Promise<void>;
}

export interface GrpcOptions {
  host: string;
  port: number;
  /** Largest message received or sent, in bytes. */
  maxMessageBytes: number;
}

export async function startGrpcServer(context: ServerContext, options: GrpcOptions): Promise<GrpcListener> {
  const { inference, health } = serviceDefinitions();
  const deps = { metrics: new GrpcMetrics(context.metrics.registry), logger: context.logger };
  const server = new Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
    // Answers are never larger than what they answer by much; keep grpc-js's 4 MiB default as the floor.
    'grpc.max_send_message_length': Math.max(options.maxMessageBytes, 4 * 1024 * 1024),
    // channelz (gRPC's introspection service) is never served here, yet grpc-js keeps its
    // per-call counters and call trees by default.
    'grpc.enable_channelz': 0,
  });
  server.addService(inference, inferenceService(context, deps));
  const healthChecks = healthService(() => context.registry.ready && !context.lifecycle.draining, deps);
  server.addService(health, healthChecks.implementation);
  // IPv6 literal hosts need brackets in the address grpc-js parses.
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${options.port}`, ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        healthChecks.closeWatches();
        server.tryShutdown(() => resolve());
      }),
  };
}
