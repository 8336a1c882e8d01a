import { cpSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VigilError } from '../../src/errors.js';
import { readModelFolder } from '../../src/models/repository.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { Dataplane, type InferenceCall } from '../../src/serving/dataplane.js';
import { OipDataplane } from '../../src/serving/oip/oip-dataplane.js';
import { ModelRegistry } from '../../src/serving/registry.js';
import { PredictionRouter } from '../../src/serving/router.js';
import { REPO_ROOT } from '../helpers/server.js';

/**
 * The dataplane without fastify or HTTP: a real registry holding the embedded digits and
 * air-quality models on real onnxruntime worker threads (from dist/: `npm run build` first),
 * called the way a protocol adapter calls it.
 */

const silent = createLogger({ level: 'silent' });
const air = JSON.parse(readFileSync(path.join(REPO_ROOT, 'models/air-quality/1/vigil.model.json'), 'utf8')) as {
  preprocessing: { features: { name: string }[]; example: { features: Record<string, number> } };
};
/** The spec's example reading (the first held-out hour): a valid row, feature by feature. */
const meanRow = air.preprocessing.example.features;
const meanTensor = air.preprocessing.features.map((f) => meanRow[f.name]!);

function build(options: { sessions?: number; folders?: string[] } = {}) {
  const metrics = new Metrics({ defaultMetrics: false });
  const registry = new ModelRegistry(metrics, silent, { sessions: options.sessions, monitor: undefined });
  const folders = options.folders ?? [path.join(REPO_ROOT, 'models/digits'), path.join(REPO_ROOT, 'models/air-quality')];
  for (const folder of folders) for (const source of readModelFolder(folder)) registry.add(source);
  const lifecycle = { draining: false };
  const dataplane = new Dataplane(registry, new PredictionRouter(registry, metrics, silent), { maxBatchInputs: 4, lifecycle });
  return { registry, dataplane, oip: new OipDataplane(dataplane), lifecycle, metrics };
}

let n = 0;
const call = <P>(model: string, payload: P, extra: Partial<InferenceCall<P>> = {}): InferenceCall<P> => ({ model, payload, requestId: `req-${++n}`, ...extra });

/** The typed error a call fails with (status and code are what adapters map to their wire). */
async function failure(promise: Promise<unknown> | (() => unknown)): Promise<VigilError> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    expect(error).toBeInstanceOf(VigilError);
    return error as VigilError;
  }
  throw new Error('expected the call to fail');
}

describe('dataplane (no HTTP)', () => {
  const { registry, dataplane, oip, lifecycle, metrics } = build();

  /** The count of one stage's histogram for air-quality version 1. */
  async function stageCount(stage: string): Promise<number> {
    const text = await metrics.registry.metrics();
    const line = text.split('\n').find((l) => l.startsWith(`vigil_inference_stage_duration_seconds_count{model="air-quality",version="1",stage="${stage}"}`));
    return line ? Number(line.split(' ').pop()) : 0;
  }

  beforeAll(async () => {
    expect(dataplane.ready).toBe(false);
    await registry.loadAll();
  }, 60_000);
  afterAll(() => registry.unloadAll());

  it('is ready once every local model is loaded, and not while draining', () => {
    expect(dataplane.ready).toBe(true);
    expect(oip.serverReady()).toBe(true);
    expect(dataplane.modelReady('digits')).toEqual({ name: 'digits', ready: true });
    lifecycle.draining = true;
    expect(dataplane.ready).toBe(false);
    expect(oip.modelReady('air-quality', '1').ready).toBe(false);
    lifecycle.draining = false;
  });

  it('answers a JSON API call with the chosen version and how it was chosen', async () => {
    let told: string | undefined;
    const answer = await dataplane.predict(call('air-quality', { features: meanRow }, { onRoute: (route) => (told = route) }));
    expect(answer.model.name).toBe('air-quality');
    expect(answer.model.version).toBe('1');
    expect(answer.route).toBe('champion');
    expect(told).toBe('champion');
    expect(answer.result.batch).toBe(false);
    const [prediction] = answer.result.predictions;
    expect(typeof prediction!.value).toBe('number');
    expect(Number.isFinite(prediction!.value)).toBe(true);
    expect(prediction!.unit).toBe('mg/m^3');

    const explicit = await dataplane.predict(call('air-quality', { rows: [meanRow, meanRow] }, { version: '1' }));
    expect(explicit.route).toBe('explicit');
    expect(explicit.result.batch).toBe(true);
    expect(explicit.result.predictions.map((p) => p.value)).toEqual([prediction!.value, prediction!.value]);
  });

  it('refuses bad calls with typed errors naming what was wrong', async () => {
    const unknownModel = await failure(dataplane.predict(call('nope', { features: meanRow })));
    expect([unknownModel.status, unknownModel.code]).toEqual([404, 'model_not_found']);
    const unknownVersion = await failure(dataplane.predict(call('digits', { pixels: [] }, { version: '7' })));
    expect([unknownVersion.status, unknownVersion.message]).toEqual([404, 'model "digits" has no version "7"']);
    const { [air.preprocessing.features[0]!.name]: _dropped, ...missing } = meanRow;
    const badRow = await failure(dataplane.predict(call('air-quality', { features: missing })));
    expect(badRow.status).toBe(400);
    expect(badRow.message).toContain(air.preprocessing.features[0]!.name);
    const tooMany = await failure(dataplane.predict(call('air-quality', { rows: Array.from({ length: 5 }, () => meanRow) })));
    expect([tooMany.status, tooMany.code]).toEqual([400, 'too_many_inputs']);
  });

  it('records one timeline per call, in order, and feeds the stage metrics from it', async () => {
    const before = await Promise.all(['preprocess', 'queue', 'postprocess'].map(stageCount));
    const answer = await dataplane.predict(call('air-quality', { rows: [meanRow, meanRow, meanRow] }));
    const t = answer.timeline!;
    const marks = [t.received, t.encoded, t.queued, t.batchStart, t.batchEnd, t.decoded];
    for (const mark of marks) expect(typeof mark).toBe('number');
    const ordered = [...(marks as number[])].sort((a, b) => a - b);
    expect(marks).toEqual(ordered);
    expect(t.failed).toBeUndefined();
    expect(t.totalMs).toBeCloseTo(t.decoded! - t.received, 9);
    expect(Object.keys(t.toJSON())).toEqual(['encoded_ms', 'queued_ms', 'batchStart_ms', 'batchEnd_ms', 'decoded_ms']);
    // One observation per call and stage (three inputs, one call), read from those marks.
    const after = await Promise.all(['preprocess', 'queue', 'postprocess'].map(stageCount));
    expect(after.map((count, i) => count - before[i]!)).toEqual([1, 1, 1]);
  });

  it('refuses to stream from a model that cannot, before anything runs', async () => {
    const error = await failure(() => dataplane.prepareStream(call('digits', { pixels: new Array(784).fill(0) })));
    expect([error.status, error.code]).toEqual([400, 'streaming_not_supported']);
  });

  it('serves OIP tensors: decoded request in, requested outputs and classification out', async () => {
    const blank = new Array(784).fill(0);
    const response = await oip.infer({
      model: 'digits',
      requestId: 'oip-1',
      payload: {
        id: 'a',
        // As tritonclient sends it: binary_data on the request and on each output, read by no one here.
        parameters: { binary_data_output: false },
        inputs: [{ name: 'pixels', shape: [2, 784], datatype: 'FP32', data: [...blank, ...blank] }],
        outputs: [
          { name: 'probabilities', parameters: { classification: 2, binary_data: false } },
          { name: 'label', parameters: { binary_data: false } },
        ],
      },
    });
    expect(response.model_name).toBe('digits');
    expect(response.model_version).toBe('1');
    expect(response.id).toBe('a');
    expect(response.outputs.map((o) => o.name)).toEqual(['probabilities', 'label']);
    const [top, labels] = response.outputs;
    expect(top!.datatype).toBe('BYTES');
    expect(top!.shape).toEqual([2, 2]);
    // "<score>:<index>:<label>", best first; both rows are the same blank image.
    const best = String(top!.data[0]).split(':');
    expect(best).toHaveLength(3);
    expect(best[2]).toBe(best[1]);
    expect(labels!.data).toEqual([best[2], best[2]]);
  });

  it('checks OIP requests field by field', async () => {
    const wrongType = await failure(
      oip.infer({ model: 'air-quality', requestId: 'x', payload: { inputs: [{ name: 'features', shape: [1, meanTensor.length], datatype: 'INT64', data: meanTensor }] } }),
    );
    expect(wrongType.status).toBe(400);
    expect(wrongType.message).toContain('datatype INT64');
    const wrongCount = await failure(oip.infer({ model: 'air-quality', requestId: 'x', payload: { inputs: [{ name: 'features', shape: [1, 3], datatype: 'FP32', data: [1, 2] }] } }));
    expect(wrongCount.message).toContain('holds 3 elements but "data" has 2');
    const unknownOutput = await failure(
      oip.infer({ model: 'air-quality', requestId: 'x', payload: { inputs: [{ name: 'features', shape: [1, meanTensor.length], datatype: 'FP32', data: meanTensor }], outputs: [{ name: 'nope' }] } }),
    );
    expect(unknownOutput.message).toContain('unknown output "nope"');
  });

  it('gives the same answer over OIP as over the JSON API', async () => {
    const [json] = (await dataplane.predict(call('air-quality', { features: meanRow }))).result.predictions;
    const tensors = await oip.infer({ model: 'air-quality', requestId: 'y', payload: { inputs: [{ name: 'features', shape: [1, meanTensor.length], datatype: 'FP32', data: meanTensor }] } });
    expect(tensors.outputs).toHaveLength(1);
    expect(tensors.outputs[0]!.data[0]).toBeCloseTo(json!.value!, 4);
  });

  it('describes models and their OIP metadata', () => {
    const metadata = oip.modelMetadata('digits');
    expect(metadata).toMatchObject({ name: 'digits', versions: ['1'], platform: 'onnx_onnxv1' });
    expect(metadata.inputs).toEqual([{ name: 'pixels', datatype: 'FP32', shape: [-1, 784] }]);
    const listed = dataplane.list();
    expect(listed.models.map((m) => m.name)).toEqual(['air-quality', 'digits']);
    expect(dataplane.describe('digits').state).toBe('ready');
  });

  it('runs one real prediction per model for the deep health check', async () => {
    const { healthy, checks } = await dataplane.deepHealth();
    expect(healthy).toBe(true);
    expect(checks.map((c) => [c.name, c.ok])).toEqual([
      ['digits', true],
      ['air-quality', true],
    ]);
  });
});

describe('one session loader for every task', () => {
  it('--sessions N gives image and tabular models N engine sessions, run at once', async () => {
    const { registry, dataplane } = build({ sessions: 2 });
    try {
      await registry.loadAll();
      expect(dataplane.model('digits').batching.maxConcurrentBatches).toBe(2);
      expect(dataplane.model('air-quality').batching.maxConcurrentBatches).toBe(2);
    } finally {
      await registry.unloadAll();
    }
    const single = build({ sessions: 1 });
    try {
      await single.registry.loadAll();
      expect(single.dataplane.model('digits').batching.maxConcurrentBatches).toBe(1);
    } finally {
      await single.registry.unloadAll();
    }
  }, 60_000);
});

describe('model lifecycle in the core', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'vigil-lifecycle-'));
    cpSync(path.join(REPO_ROOT, 'models/air-quality'), path.join(root, 'air-quality'), { recursive: true });
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('each version remembers its source; reload keeps unchanged versions and swaps changed ones', async () => {
    const { registry, dataplane } = build({ folders: [path.join(root, 'air-quality')] });
    try {
      await registry.loadAll();
      const first = dataplane.model('air-quality');
      expect(first.source.folder).toBe(path.join(root, 'air-quality'));
      expect(first.source.dir).toBe(path.join(root, 'air-quality', '1'));
      expect(first.source.fingerprint).toContain('vigil.model.json:');
      expect(first.source.hub).toBeUndefined();

      await dataplane.repository.load('air-quality');
      expect(dataplane.model('air-quality')).toBe(first);

      const spec = path.join(root, 'air-quality', '1', 'vigil.model.json');
      const later = new Date(Date.now() + 5_000);
      utimesSync(spec, later, later);
      const index = await dataplane.repository.load('air-quality');
      expect(index).toEqual([{ name: 'air-quality', version: '1', state: 'READY', reason: '' }]);
      const second = dataplane.model('air-quality');
      expect(second).not.toBe(first);
      expect(second.source.fingerprint).not.toBe(first.source.fingerprint);
      expect(first.state).toBe('unloaded');

      await dataplane.repository.unload('air-quality');
      expect(dataplane.repository.index(false)[0]!.state).toBe('UNAVAILABLE');
      const missing = await failure(dataplane.repository.load('nope'));
      expect(missing.status).toBe(404);
    } finally {
      await registry.unloadAll();
    }
  }, 60_000);
});
