import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { InvalidInput } from '../errors.js';
import type { ServerContext } from '../http/context.js';
import { ROUTE_HEADER, ROUTE_KEY_HEADER } from '../http/route-key.js';
import { withLazySignal } from '../serving/lazy-signal.js';
import { OIP_SERVER_NAME } from '../serving/oip/oip-dataplane.js';
import { admitted } from './admission.js';
import { unary, type CallDeps } from './calls.js';
import type { ModelInferRequestMessage, ModelInferResponseMessage, ModelMetadataResponseMessage } from './messages.js';
import { INFERENCE_SERVICE } from './proto.js';
import { decodeInferRequest, encodeInferResponse } from './tensors.js';

/**
 * inference.GRPCInferenceService: the Open Inference Protocol over gRPC, an adapter over the
 * same OIP dataplane as REST (src/serving/oip/oip-dataplane.ts): the same version choice
 * (champion, canary, sticky `x-vigil-route-key` metadata), tensor checks, codecs, batcher,
 * metrics, prediction log and drift. Differences the transport imposes: not-ready is
 * `ready: false` with status OK (gRPC has no 503 body), errors are status codes (status.ts).
 */

/** Extensions that apply over gRPC: the protocol defines no gRPC form of the model repository. */
export const GRPC_EXTENSIONS = ['classification'];

const MAX_ROUTE_KEY_LENGTH = 256;

function routeKey(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.length === 0 || value.length > MAX_ROUTE_KEY_LENGTH) {
    throw new InvalidInput(`metadata ${ROUTE_KEY_HEADER} must be 1 to ${MAX_ROUTE_KEY_LENGTH} characters (a user or session id), got ${value.length}`, 'invalid_route_key');
  }
  return value;
}

const versionOf = (raw: string | undefined) => (raw ? raw : undefined);

export function inferenceService(context: ServerContext, deps: CallDeps): UntypedServiceImplementation {
  const { oip } = context;
  const call = <Req, Res>(method: string, handle: Parameters<typeof unary<Req, Res>>[3]) => unary<Req, Res>(deps, INFERENCE_SERVICE, method, handle);

  return {
    ServerLive: call('ServerLive', () => ({ live: oip.serverLive() })),
    ServerReady: call('ServerReady', () => ({ ready: oip.serverReady() })),
    ModelReady: call<{ name?: string; version?: string }, { ready: boolean }>('ModelReady', (request) => ({
      ready: oip.modelReady(request.name ?? '', versionOf(request.version)).ready,
    })),
    ServerMetadata: call('ServerMetadata', () => ({ ...oip.serverMetadata(context.version), name: OIP_SERVER_NAME, extensions: GRPC_EXTENSIONS })),
    ModelMetadata: call<{ name?: string; version?: string }, ModelMetadataResponseMessage>('ModelMetadata', (request) =>
      admitted(context, undefined, async () => {
        const metadata = oip.modelMetadata(request.name ?? '', versionOf(request.version));
        return { ...metadata, properties: metadata.properties ?? {} };
      }),
    ),
    ModelInfer: call<ModelInferRequestMessage, ModelInferResponseMessage>('ModelInfer', (message, info) => {
      // A throw here (bad input) becomes the call's error: unary() turns it into a rejection.
      const { modelName, modelVersion, request, raw } = decodeInferRequest(message);
      // The abort controller stays lazy, as REST's does: only remote calls read it.
      const target = withLazySignal(
        {
          model: modelName,
          version: modelVersion,
          routeKey: routeKey(info.header(ROUTE_KEY_HEADER)),
          requestId: info.requestId,
          timeoutMs: info.timeoutMs,
          onRoute: (route: string) => info.trailers.set(ROUTE_HEADER, route),
        },
        () => info.signal,
      );
      return admitted(context, modelName, () =>
        oip.inferDecoded(target, request).then((answer) => encodeInferResponse({ modelName: answer.model_name, modelVersion: answer.model_version, id: answer.id }, answer.outputs, raw)),
      );
    }),
  };
}
