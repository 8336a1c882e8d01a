import path from 'node:path';
import { loadSync, type Options } from '@grpc/proto-loader';
import { loadPackageDefinition, type GrpcObject, type ServiceDefinition } from '@grpc/grpc-js';
import { PACKAGE_ROOT } from '../config/serve-config.js';
import { decodeModelInferRequest, encodeModelInferResponse } from './infer-codec.js';
import { keepMalformed } from './malformed.js';

/**
 * Vigil's .proto files (proto/ at the package root, shipped with the package), loaded at start.
 * The options shape every message the handlers see (src/grpc/messages.ts): field names as
 * written in the .proto, 64-bit integers as numbers (shapes, INT64 elements: past 2^53 a
 * client gets INVALID_ARGUMENT from the raw path; typed INT64 contents lose precision beyond it,
 * as JSON numbers do), bytes as Buffers, empty repeated fields and maps as [] and {}, and the
 * name of the set member of each oneof.
 */
export const PROTO_DIR = path.join(PACKAGE_ROOT, 'proto');

export const LOADER_OPTIONS: Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  bytes: Buffer,
  defaults: false,
  arrays: true,
  objects: true,
  oneofs: true,
};

interface Loaded {
  inference: ServiceDefinition;
  health: ServiceDefinition;
}

let loaded: Loaded | undefined;

export function serviceDefinitions(): Loaded {
  if (loaded) return loaded;
  const definition = loadSync(['inference.proto', 'grpc/health/v1/health.proto'], { ...LOADER_OPTIONS, includeDirs: [PROTO_DIR] });
  const root = loadPackageDefinition(definition);
  const inference = (root.inference as GrpcObject).GRPCInferenceService as unknown as { service: ServiceDefinition };
  const health = (((root.grpc as GrpcObject).health as GrpcObject).v1 as GrpcObject).Health as unknown as { service: ServiceDefinition };
  // ModelInfer, the call paid for per request, goes through Vigil's own codec (infer-codec.ts);
  // its message types stay the loader's, for reflection and the tests.
  const modelInfer = inference.service.ModelInfer!;
  const service: ServiceDefinition = {
    ...inference.service,
    ModelInfer: { ...modelInfer, requestDeserialize: decodeModelInferRequest, responseSerialize: encodeModelInferResponse },
  };
  loaded = { inference: guardUnary(service), health: guardUnary(health.service) };
  return loaded;
}

/** Unary methods hand bytes that do not parse on as MALFORMED (malformed.ts), for INVALID_ARGUMENT. */
function guardUnary(service: ServiceDefinition): ServiceDefinition {
  return Object.fromEntries(
    Object.entries(service).map(([name, method]) => [name, method.requestStream || method.responseStream ? method : { ...method, requestDeserialize: keepMalformed(method.requestDeserialize) }]),
  );
}

export const INFERENCE_SERVICE = 'inference.GRPCInferenceService';
export const HEALTH_SERVICE = 'grpc.health.v1.Health';
