import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { repoRoot } from '../training/artifacts.js';
import { TRAINERS } from '../training/index.js';

const HELP = `usage: vigil train <model> [--data PATH] [--out DIR] [--seed N] [--quick] [--epochs N]

Trains one of the embedded models and exports it (model.onnx, vigil.model.json, MODEL_CARD.md,
and for text models tokenizer.json + tokenizer_config.json) into models/<model>/<version> (1; spam: 2).

models:
${Object.entries(TRAINERS)
  .map(([n, t]) => `  ${n.padEnd(12)} ${t.description}`)
  .join('\n')}

options:
  --data PATH   training data (default: the shared data set beside the checkout, ../shared/...)
  --out DIR     output folder (default: models/<model>/<version> in the repository; with --quick,
                .vigil/quick-models/<model>/<version> so that a CI-sized run never replaces a committed model)
  --seed N      random seed for the split, initialisation and data order (default 42)
  --quick       small fast run for CI (fewer rows and epochs, no hyper-parameter sweep)
  --epochs N    override the number of training epochs
  -h, --help    this help`;

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        data: { type: 'string' },
        out: { type: 'string' },
        seed: { type: 'string', default: '42' },
        quick: { type: 'boolean', default: false },
        epochs: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    console.error(`vigil train: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const name = positionals[0];
  if (!name || positionals.length > 1) {
    console.error(HELP);
    return 2;
  }
  const entry = TRAINERS[name];
  if (!entry) {
    console.error(`vigil train: unknown model "${name}" (one of: ${Object.keys(TRAINERS).join(', ')})`);
    return 2;
  }
  const seed = Number(values.seed);
  const epochs = values.epochs === undefined ? undefined : Number(values.epochs);
  if (!Number.isInteger(seed) || seed < 0 || (epochs !== undefined && (!Number.isInteger(epochs) || epochs < 1))) {
    console.error('vigil train: --seed must be a non-negative integer and --epochs a positive integer');
    return 2;
  }
  const trainer = await entry.load();
  const version = trainer.version ?? '1';
  const defaultOut = values.quick ? resolve(repoRoot, '.vigil', 'quick-models', name, version) : resolve(repoRoot, 'models', name, version);
  const out = resolve(values.out ?? defaultOut);
  const result = await trainer.train({
    data: values.data ? resolve(values.data) : undefined,
    out,
    seed,
    quick: values.quick,
    epochs,
    log: (line) => console.log(line),
  });
  console.log(`${name}: wrote ${result.out} (${(result.bytes / 1024).toFixed(0)} KiB) in ${result.seconds}s; held-out ${JSON.stringify(result.metrics)}`);
  return 0;
}
