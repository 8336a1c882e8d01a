import type { StandingRefusal } from '../errors.js';
import type { ModelSpec } from '../models/spec.js';
import { connectRemote, HF_CLASSIFICATION_BASE_URL, TextClassificationClient, type LabelScore } from '../runtimes/remote/index.js';
import { parseTextRequest } from './text-classification.js';
import type { Pipeline, Prediction, RunOptions, TaskDefinition } from './types.js';

/**
 * Text classification answered by a remote API (Hugging Face `hf-inference` wire format):
 * the same request and answer as a local classifier, so either can be the other's fallback.
 */
class RemoteClassificationPipeline implements Pipeline<string, string, LabelScore[]> {
  readonly warmUp = false;

  constructor(
    private readonly spec: ModelSpec,
    private readonly client: TextClassificationClient,
  ) {}

  standingRefusal(): StandingRefusal | undefined {
    return this.client.standingRefusal();
  }

  encode(text: string): string {
    return text;
  }

  run(text: string, options: RunOptions): Promise<LabelScore[]> {
    return this.client.classify(text, { signal: options.signal });
  }

  runBatch(batch: string[]): Promise<LabelScore[][]> {
    return Promise.all(batch.map((text) => this.client.classify(text)));
  }

  /**
   * Upstream labels are matched to the spec's labels without regard to case ("POSITIVE" ->
   * "positive"), so a remote classifier and a local one report the same label values.
   */
  decode(scores: LabelScore[]): Prediction {
    const known = this.spec.labels ?? [];
    const name = (label: string) => known.find((k) => k.toLowerCase() === label.toLowerCase()) ?? label;
    const all: Record<string, number> = {};
    for (const { label, score } of scores) all[name(label)] = score;
    const best = scores[0]!;
    return { label: name(best.label), score: best.score, scores: all };
  }

  probe(): Promise<Prediction> {
    return this.client.classify(this.sampleInput()).then((scores) => this.decode(scores));
  }

  sampleInput(): string {
    return 'I am so happy today!';
  }

  signature() {
    return {
      inputs: [{ name: 'text', datatype: 'BYTES' as const, shape: [-1] }],
      outputs: [
        { name: 'label', datatype: 'BYTES' as const, shape: [-1] },
        { name: 'score', datatype: 'FP32' as const, shape: [-1] },
      ],
    };
  }

  async release(): Promise<void> {
    // Nothing held.
  }
}

export const remoteTextClassification: TaskDefinition<string> = {
  name: 'text-classification',
  parseRequest: parseTextRequest,
  async load(spec, options) {
    const remote = await connectRemote(spec, HF_CLASSIFICATION_BASE_URL, { registry: options.metrics?.registry, logger: options.logger });
    return new RemoteClassificationPipeline(spec, new TextClassificationClient(remote.settings, remote.credentials, remote.guard));
  },
};
