import type { FastifyInstance } from 'fastify';
import type { SwaggerOptions } from '@fastify/swagger';
import { Compile } from 'typebox/compile';
import { SECURITY_SCHEMES } from './common.js';

/** The OpenAPI document's frame (the operations come from each route's schema) and how schemas are used. */

export function openApiOptions(version: string): SwaggerOptions {
  return {
    openapi: {
      // 3.1: JSON Schema 2020-12, so `"type": ["string", "null"]` and `examples` mean what they say.
      openapi: '3.1.0',
      info: {
        title: 'Vigil',
        version,
        description:
          'Serve machine learning models over HTTP and keep them observable. Errors are JSON: `{"error": {"code", "message", "request_id"}}` on the JSON API, ' +
          '`{"error": "message"}` on the Open Inference Protocol (`/v2`). Bodies are JSON: a declared other Content-Type is 415; a wrong method on a known path is 405 with `Allow`.',
      },
      tags: [
        { name: 'predict', description: 'Predictions (JSON API)' },
        { name: 'models', description: 'Served models and their release routing' },
        { name: 'health', description: 'Liveness, readiness, deep health' },
        { name: 'monitoring', description: 'Metrics, history and delayed labels' },
        { name: 'oip', description: 'Open Inference Protocol (KServe V2) and its model repository extension' },
      ],
      components: { securitySchemes: SECURITY_SCHEMES as never },
    },
  };
}

function firstError(check: ReturnType<typeof Compile>, data: unknown, part: string): Error {
  const first = [...check.Errors(data)][0] as { instancePath?: string; message?: string } | undefined;
  return new Error(`${part}${first?.instancePath ?? ''} ${first?.message ?? 'is invalid'}`);
}

/**
 * Bodies are not validated from the schema: each handler's parser checks them and names the
 * field at fault in its own words (the schema documents them). Path, query and headers are.
 * Answers are written with JSON.stringify, not from the response schema, so a schema never
 * drops a field nor fails a request; test/integration/routes-inject.test.ts holds the answers
 * to the schemas instead.
 */
export function useSchemasAsContract(app: FastifyInstance): void {
  app.setValidatorCompiler(({ schema, httpPart }) => {
    if (httpPart === 'body') return () => true;
    const check = Compile(schema as never);
    const part = httpPart === 'querystring' ? 'query' : (httpPart ?? 'request');
    return (data: unknown) => (check.Check(data) ? true : { error: firstError(check, data, part) });
  });
  app.setSerializerCompiler(() => (data: unknown) => JSON.stringify(data));
}
