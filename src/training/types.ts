/** What every trainer (sentiment, spam, digits, air-quality) offers to the CLI and the tests. */
export interface TrainContext {
  /** Data file/folder; undefined = the trainer's default. */
  data?: string;
  /** Output model folder (models/<name>/1 by default). */
  out: string;
  seed: number;
  /** Small fast run for CI: fewer rows/epochs, no hyper-parameter sweep. */
  quick: boolean;
  /** Override the number of epochs. */
  epochs?: number;
  log: (line: string) => void;
}

export interface TrainResult {
  out: string;
  metrics: Record<string, number>;
  seconds: number;
  bytes: number;
}

export interface EvalContext {
  data?: string;
  log: (line: string) => void;
}

export interface EvalResult {
  model: string;
  n: number;
  /** Metrics of the exported ONNX model, recomputed now. */
  metrics: Record<string, number>;
  /** Metrics the spec recorded at training time. */
  recorded: Record<string, number>;
  /** Largest allowed absolute difference per metric. */
  tolerance: number;
}

export interface Trainer {
  name: string;
  /** The version folder `vigil train` writes by default (models/<name>/<version>); '1' when absent. */
  version?: string;
  train(ctx: TrainContext): Promise<TrainResult>;
  evaluate(dir: string, ctx: EvalContext): Promise<EvalResult>;
}
