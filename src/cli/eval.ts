import { existsSync, readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { readSpec, repoRoot } from '../training/artifacts.js';
import { TRAINERS } from '../training/index.js';

const HELP = `usage: vigil eval <model-dir-or-name> [data] [--json] [--tolerance X]

Runs the EXPORTED model (onnxruntime-node, tokenizing through the exported tokenizer) on the
held-out split recomputed from the data with the spec's seed, prints the metrics next to the
numbers recorded in vigil.model.json, and exits 1 when any differs by more than the tolerance.

  <model-dir-or-name>  a model folder (holding vigil.model.json) or an embedded model name
                       (${Object.keys(TRAINERS).join(', ')}) meaning its newest version
                       folder, models/<name>/<N>
  [data]               data path (default: the shared data set beside the checkout)
  --json               print one JSON object instead of a table
  --tolerance X        override the spec's tolerance (absolute difference per metric)
  -h, --help           this help`;

/** The highest numbered version folder of a model (models/<name>/<N>), or <name>/1 when there is none. */
function newestVersion(modelDir: string): string {
  const versions = existsSync(modelDir) ? readdirSync(modelDir).filter((d) => /^\d+$/.test(d)).map(Number) : [];
  return resolve(modelDir, String(versions.length ? Math.max(...versions) : 1));
}

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { json: { type: 'boolean', default: false }, tolerance: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
    });
  } catch (err) {
    console.error(`vigil eval: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const [target, data] = positionals;
  if (!target || positionals.length > 2) {
    console.error(HELP);
    return 2;
  }
  const dir = existsSync(resolve(target, 'vigil.model.json')) ? resolve(target) : newestVersion(resolve(repoRoot, 'models', target));
  if (!existsSync(resolve(dir, 'vigil.model.json'))) {
    console.error(`vigil eval: no vigil.model.json in ${target} nor in ${dir}`);
    return 2;
  }
  const spec = readSpec(dir);
  const entry = TRAINERS[spec.name];
  if (!entry) {
    console.error(`vigil eval: no evaluator for model "${spec.name}" (one of: ${Object.keys(TRAINERS).join(', ')})`);
    return 2;
  }
  const trainer = await entry.load();
  const result = await trainer.evaluate(dir, { data: data ? resolve(data) : undefined, log: (l) => console.error(l) });
  const tolerance = values.tolerance !== undefined ? Number(values.tolerance) : result.tolerance;
  const rows = Object.entries(result.metrics).map(([metric, value]) => {
    const recorded = result.recorded[metric];
    const diff = recorded === undefined ? null : Math.abs(value - recorded);
    return { metric, value, recorded: recorded ?? null, diff, ok: diff === null || diff <= tolerance + 1e-12 };
  });
  const ok = rows.every((r) => r.ok);
  if (values.json) {
    console.log(JSON.stringify({ model: result.model, dir, n: result.n, tolerance, ok, metrics: rows }, null, 2));
  } else {
    console.log(`${result.model} (${dir}), ${result.n} held-out examples, tolerance ${tolerance}`);
    const w = Math.max(10, ...rows.map((r) => r.metric.length));
    console.log(`  ${'metric'.padEnd(w)} ${'now'.padStart(10)} ${'recorded'.padStart(10)}  status`);
    for (const r of rows) {
      console.log(`  ${r.metric.padEnd(w)} ${r.value.toFixed(4).padStart(10)} ${(r.recorded === null ? '-' : r.recorded.toFixed(4)).padStart(10)}  ${r.ok ? 'ok' : 'DIFFERS'}`);
    }
    console.log(ok ? 'ok' : 'FAILED: metrics differ from the spec beyond the tolerance');
  }
  return ok ? 0 : 1;
}
