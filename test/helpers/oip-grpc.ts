import * as grpc from '@grpc/grpc-js';
import { fromJSON, loadSync } from '@grpc/proto-loader';
import { sharedPath } from './shared.js';

/**
 * A gRPC client for the Open Inference Protocol built at test time from the protocol's OWN
 * .proto (../shared/docs/references/open-inference-protocol/open_inference_grpc.proto, as
 * published by KServe), never from Vigil's proto/: what it can say, any generated client can.
 * Loader options differ from the server's on purpose (int64 as strings, defaults filled in),
 * as another language's stubs would see the messages.
 */

export const SPEC_PROTO = sharedPath('docs', 'references', 'open-inference-protocol', 'open_inference_grpc.proto');

export type Client = grpc.Client & Record<string, (...args: any[]) => grpc.ClientUnaryCall>;

export function inferenceClient(port: number): Client {
  const definition = loadSync(SPEC_PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(definition) as any;
  return new pkg.inference.GRPCInferenceService(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as Client;
}

/**
 * grpc.health.v1 as the gRPC health-checking protocol defines it, declared here (a protobuf
 * JSON descriptor) rather than read from Vigil's proto/.
 */
const HEALTH_DESCRIPTOR = {
  nested: {
    grpc: {
      nested: {
        health: {
          nested: {
            v1: {
              nested: {
                HealthCheckRequest: { fields: { service: { type: 'string', id: 1 } } },
                HealthCheckResponse: {
                  fields: { status: { type: 'ServingStatus', id: 1 } },
                  nested: { ServingStatus: { values: { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } } },
                },
                Health: {
                  methods: {
                    Check: { requestType: 'HealthCheckRequest', responseType: 'HealthCheckResponse' },
                    Watch: { requestType: 'HealthCheckRequest', responseType: 'HealthCheckResponse', responseStream: true },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

export function healthClient(port: number): Client {
  const pkg = grpc.loadPackageDefinition(fromJSON(HEALTH_DESCRIPTOR, { enums: String, defaults: true })) as any;
  return new pkg.grpc.health.v1.Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as Client;
}

export interface Answer<T = any> {
  response: T;
  trailers: grpc.Metadata;
}

export interface CallOptions {
  metadata?: Record<string, string>;
  /** Milliseconds from now. */
  deadlineMs?: number;
  /** Gets the call object (to cancel it). */
  onCall?: (call: grpc.ClientUnaryCall) => void;
}

/** One unary call; rejects with the grpc-js ServiceError (code, details, metadata). */
export function unaryCall<T = any>(client: Client, method: string, request: unknown, options: CallOptions = {}): Promise<Answer<T>> {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(options.metadata ?? {})) metadata.set(key, value);
  return new Promise((resolve, reject) => {
    // grpc-js calls back before it emits 'status' (which carries the trailers): settle on both.
    let outcome: { error: grpc.ServiceError | null; response: T } | undefined;
    let trailers: grpc.Metadata | undefined;
    const settle = () => {
      if (!outcome || !trailers) return;
      if (outcome.error) reject(outcome.error);
      else resolve({ response: outcome.response, trailers });
    };
    const callOptions = options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs };
    const call = client[method]!(request, metadata, callOptions, (error: grpc.ServiceError | null, response: T) => {
      outcome = { error, response };
      settle();
    });
    call.on('status', (status: grpc.StatusObject) => {
      trailers = status.metadata;
      settle();
    });
    options.onCall?.(call);
  });
}

/** The ServiceError a call failed with (fails the test when it succeeded). */
export async function callError(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    const answer = await promise;
    throw new Error(`the call succeeded: ${JSON.stringify(answer)}`);
  } catch (error) {
    if ((error as grpc.ServiceError).code === undefined) throw error;
    return error as grpc.ServiceError;
  }
}

/** BYTES elements in raw form, built by hand from the protocol's description: u32 LE length + bytes. */
export function rawBytes(values: string[]): Buffer {
  return Buffer.concat(values.flatMap((v) => {
    const bytes = Buffer.from(v, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32LE(bytes.length);
    return [length, bytes];
  }));
}

export function parseRawBytes(raw: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at < raw.length; ) {
    const length = raw.readUInt32LE(at);
    out.push(raw.subarray(at + 4, at + 4 + length).toString('utf8'));
    at += 4 + length;
  }
  return out;
}

export function rawFloats(values: number[]): Buffer {
  const out = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => out.writeFloatLE(v, i * 4));
  return out;
}

export function parseRawFloats(raw: Buffer): number[] {
  return Array.from({ length: raw.length / 4 }, (_, i) => raw.readFloatLE(i * 4));
}

export const { status } = grpc;
