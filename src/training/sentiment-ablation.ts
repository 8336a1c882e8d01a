import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { repoRoot, sharedDir } from './artifacts.js';
import { loadSst2, splitSst2, type LabelledText } from './data/sst2.js';
import { argmax, round } from './metrics.js';
import { openSession, runTextClassifier } from './onnx-run.js';
import { buildSentimentTokenizer, fitSentiment, lexiconsOf, trainingSelection, type Labelled, type SentimentVariant } from './sentiment-fit.js';
import { fusedLogits, fuseSentiment, sentimentOnnx } from './sentiment-model.js';
import { MAX_LENGTH, splitOptions } from './sentiment.js';
import { ablationMarkdown, type AblationResult, type AblationRow } from './sentiment-ablation-report.js';
import { ABLATION } from './sentiment-variants.js';
import { loadTokenizer, type PreTokenization, type TextTokenizer } from './tokenizer.js';

/**
 * The sentiment ablation: every row of `ABLATION` (src/training/sentiment-variants.ts) measured the same way,
 *
 * - cross-validated accuracy: 5 leak-free validation splits of 1000 sentences carved out of the
 *   training rows (seeds 43..47, the procedure of the held-out split), each variant trained on the
 *   rest -- this is what the choice is made on;
 * - held-out accuracy: trained on all training rows, exported to ONNX, run with onnxruntime-node
 *   on the 1000 held-out sentences -- reported, never used to choose;
 * - cost per request: onnxruntime-node engine time per call at batch 1 (one intra-op thread) on
 *   held-out sentences, the models taking turns call by call in the same run, next to the
 *   committed model and the DistilBERT-architecture graph from ../shared (random weights, real
 *   cost); and the tokenizer's time per text.
 *
 * Writes docs/sentiment-ablation.json and .md; `vigil train sentiment` copies the table into the
 * model card. Run: `npx tsc -p . && node dist/training/sentiment-ablation.js` (about half an hour
 * on 2 shared cores; --folds 3 or --only <text>[|<text>...] for less; --retime to re-measure the cost only;
 * --append --only ... to add rows to an earlier run's table).
 */

interface TaskData {
  tok: TextTokenizer;
  vocab: string[];
  rows: LabelledText[];
  ids: number[][];
  test: Labelled;
  testTexts: string[];
}

const labelled = (ids: number[][], rows: LabelledText[]): Labelled => ({ ids, labels: rows.map((r) => r.label) });

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: resolve(sharedDir, 'data', 'sst2', 'train.tsv') },
      folds: { type: 'string', default: '5' },
      only: { type: 'string' },
      out: { type: 'string', default: resolve(repoRoot, 'docs', 'sentiment-ablation') },
      calls: { type: 'string', default: '200' },
      rounds: { type: 'string', default: '3' },
      // Re-measure cost only: keep the cross-validation of the existing --out .json, retrain the
      // full-data models (their held-out accuracy must come out as recorded) and time them again.
      retime: { type: 'boolean', default: false },
      // Add rows: keep every row of the existing --out .json that --only does not select (with the
      // run that measured it), measure the selected ones in full, and time them next to the
      // references in this run.
      append: { type: 'boolean', default: false },
      'reference-model': { type: 'string', default: resolve(repoRoot, 'models', 'sentiment', '1') },
    },
  });
  const previous = values.retime ? (JSON.parse(readFileSync(`${values.out}.json`, 'utf8')) as AblationResult) : undefined;
  const earlier = values.append ? (JSON.parse(readFileSync(`${values.out}.json`, 'utf8')) as AblationResult) : undefined;
  if (earlier && !values.only) throw new Error('--append needs --only <text> naming the rows to measure');
  const seed = 42;
  const all = loadSst2(values.data);
  const outer = splitSst2(all, splitOptions(seed));
  const folds = Array.from({ length: Number(values.folds) }, (_, i) => splitSst2(outer.train, { ...splitOptions(seed + 1 + i) }));
  const tasks = [...folds.map((f) => ({ train: f.train, test: f.test })), { train: outer.train, test: outer.test }];
  const full = tasks.length - 1;
  const work = mkdtempSync(resolve(tmpdir(), 'vigil-ablation-'));
  const log = (s: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);

  // Tokenizer + encodings per (task, pre-tokeniser), built once.
  const cache = new Map<string, TaskData>();
  async function taskData(t: number, style: PreTokenization, lexicon: { vader: boolean; afinn: boolean }): Promise<TaskData> {
    const tag = `${lexicon.vader ? '-vader' : ''}${lexicon.afinn ? '-afinn' : ''}`;
    const key = `${t}/${style}${tag}`;
    if (!cache.has(key)) {
      const { train, test } = tasks[t]!;
      const { tok, vocab } = await buildSentimentTokenizer(resolve(work, `task${t}-${style}${tag}`, 'tokenizer'), train.map((r) => r.text), style, MAX_LENGTH, lexicon);
      cache.set(key, { tok, vocab, rows: train, ids: train.map((r) => tok.encode(r.text)), test: labelled(test.map((r) => tok.encode(r.text)), test), testTexts: test.map((r) => r.text) });
      log(`encoded task ${t} (${style}${tag ? `, lexicon words added (${tag.slice(1)})` : ''}): ${train.length} training rows, vocabulary ${vocab.length}`);
    }
    return cache.get(key)!;
  }
  const parts = new Map<string, unknown>();

  /** Encoded training rows of a task for a variant, and its early-stopping validation part. */
  function trainingSet(d: TaskData, v: SentimentVariant): { train: Labelled; validation?: Labelled } {
    const index = new Map(d.rows.map((r, i) => [r, i]));
    const pick = (rows: LabelledText[]) => labelled(rows.map((r) => d.ids[index.get(r)!]!), rows);
    const { fit, validation } = trainingSelection(d.rows, v, seed);
    return { train: pick(fit), validation: validation && pick(validation) };
  }
  const partSeconds = new Map<string, number>();

  const only = values.only;
  const selected = ABLATION.filter((r) => !only || only.split('|').some((o) => r.name.includes(o)));
  const results: AblationRow[] = [];
  const onnxFiles: Array<{ name: string; file: string; test: number[][]; tok: TextTokenizer; texts: string[] }> = [];
  for (const [n, row] of selected.entries()) {
    const v = row.variant;
    const before = previous?.rows.find((r) => r.name === row.name);
    if (previous && !before) throw new Error(`--retime: "${row.name}" is not in ${values.out}.json`);
    const accs: number[] = before ? [...before.cvFolds] : [];
    let trainSeconds = 0;
    for (let t = before ? full : 0; t < tasks.length; t++) {
      const d = await taskData(t, v.preTokenization, lexiconsOf(v.features));
      const { train, validation } = trainingSet(d, v);
      let seconds = 0;
      const model = fuseSentiment(fitSentiment(d.vocab, train, v, seed, {
        validation,
        memo: <T>(key: string, make: () => T): T => {
          const k = `${t}|${key}`;
          if (!parts.has(k)) {
            const t0 = performance.now();
            parts.set(k, make());
            partSeconds.set(k, (performance.now() - t0) / 1000);
          }
          seconds += partSeconds.get(k)!;
          return parts.get(k) as T;
        },
      }));
      if (t < full) {
        let ok = 0;
        d.test.ids.forEach((ids, i) => (ok += argmax(fusedLogits(model, ids)) === d.test.labels[i] ? 1 : 0));
        accs.push(ok / d.test.ids.length);
        continue;
      }
      trainSeconds = seconds;
      const file = resolve(work, `row${n}.onnx`);
      writeFileSync(file, sentimentOnnx(model));
      const session = await openSession(file);
      const logits = await runTextClassifier(session, d.test.ids);
      await session.release();
      const heldOut = logits.filter((l, i) => argmax(l) === d.test.labels[i]).length / logits.length;
      if (before && round(heldOut, 4) !== before.heldOutAccuracy) throw new Error(`--retime: "${row.name}" now scores ${heldOut}, recorded ${before.heldOutAccuracy}`);
      const cv = before ? before.cvAccuracy : accs.reduce((a, b) => a + b, 0) / accs.length;
      results.push({ name: row.name, variant: v, cvAccuracy: round(cv, 4), cvFolds: accs.map((a) => round(a, 4)), heldOutAccuracy: round(heldOut, 4), engineMsPerCall: 0, tokenizerMsPerText: 0, modelBytes: statSync(file).size, trainSeconds: round(trainSeconds, 1) });
      onnxFiles.push({ name: row.name, file, test: d.test.ids, tok: d.tok, texts: d.testTexts });
      log(`${row.name}: cv ${cv.toFixed(4)} [${accs.map((a) => a.toFixed(3)).join(' ')}], held-out ${heldOut.toFixed(4)}, ${(statSync(file).size / 2 ** 20).toFixed(2)} MB, full fit ${trainSeconds.toFixed(1)} s`);
    }
  }

  // References: the committed model as it was when the run started, and the transformer's cost.
  const texts = outer.test.map((r) => r.text);
  const references: Array<{ name: string; file: string; tok: TextTokenizer; note: string; heldOutAccuracy?: number }> = [];
  const committed = values['reference-model'];
  if (existsSync(resolve(committed, 'model.onnx'))) {
    const copy = resolve(work, 'committed');
    mkdirSync(copy, { recursive: true });
    for (const f of ['model.onnx', 'tokenizer.json', 'tokenizer_config.json']) writeFileSync(resolve(copy, f), readFileSync(resolve(committed, f)));
    const spec = JSON.parse(readFileSync(resolve(committed, 'vigil.model.json'), 'utf8')) as { evaluation?: { metrics?: { accuracy?: number } }; training?: { finishedAt?: string } };
    references.push({ name: 'version 1 as committed before this work (models/sentiment/1)', file: resolve(copy, 'model.onnx'), tok: await loadTokenizer(copy, MAX_LENGTH), heldOutAccuracy: spec.evaluation?.metrics?.accuracy, note: `trained ${spec.training?.finishedAt ?? '?'}` });
  }
  const distilbert = resolve(sharedDir, 'models', 'distilbert-arch-random');
  if (existsSync(resolve(distilbert, 'onnx', 'model_quantized.onnx'))) {
    references.push({ name: 'DistilBERT architecture, int8 (shared/models/distilbert-arch-random)', file: resolve(distilbert, 'onnx', 'model_quantized.onnx'), tok: await loadTokenizer(distilbert, MAX_LENGTH), note: 'random weights, real compute: cost only (the fine-tuned model reports 91.3% on the SST-2 dev set)' });
  }

  // Timing: every model of this run, plus the references, in one session each.
  const calls = Number(values.calls);
  const rounds = Number(values.rounds);
  const timed = [...onnxFiles.map((o) => ({ ...o, texts: o.texts })), ...references.map((r) => ({ name: r.name, file: r.file, tok: r.tok, texts, test: texts.map((t) => r.tok.encode(t)) }))];
  const engine = new Map<string, number[]>();
  const tokenizer = new Map<string, number[]>();
  const sessions = await Promise.all(timed.map((m) => ort.InferenceSession.create(m.file, { intraOpNumThreads: 1, interOpNumThreads: 1 })));
  const feedsOf = (ids: number[]) => ({
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
  });
  for (const [i, m] of timed.entries()) await sessions[i]!.run(feedsOf(m.test[0]!)); // warm-up
  // Call by call, every model in turn (in a rotating order), so that a burst of load from other
  // work on the machine falls on all models alike rather than on whichever was being timed.
  for (let r = 0; r < rounds; r++) {
    for (let c = 0; c < calls; c++) {
      for (let k = 0; k < timed.length; k++) {
        const i = (k + c) % timed.length;
        const m = timed[i]!;
        if (m.name.startsWith('DistilBERT') && c % 10 !== 0) continue; // a tenth of the calls: each costs ~100 of the others
        const t0 = performance.now();
        m.tok.encode(m.texts[c % m.texts.length]!);
        (tokenizer.get(m.name) ?? tokenizer.set(m.name, []).get(m.name)!).push(performance.now() - t0);
        const feeds = feedsOf(m.test[c % m.test.length]!);
        const t1 = performance.now();
        await sessions[i]!.run(feeds);
        (engine.get(m.name) ?? engine.set(m.name, []).get(m.name)!).push(performance.now() - t1);
      }
    }
    log(`timing round ${r + 1}/${rounds} done`);
  }
  await Promise.all(sessions.map((s) => s.release()));
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  for (const row of results) {
    if (!engine.has(row.name)) continue; // an earlier run's row (--append)
    row.engineMsPerCall = round(median(engine.get(row.name)!), 3);
    row.tokenizerMsPerText = round(median(tokenizer.get(row.name)!), 3);
  }
  if (earlier) {
    // Rows of the earlier run, in ABLATION order around the new ones, marked with when they were measured.
    const fresh = new Map(results.map((r) => [r.name, r]));
    const kept = new Map(earlier.rows.map((r) => [r.name, { ...r, measuredIn: r.measuredIn ?? earlier.finishedAt }]));
    results.splice(0, results.length, ...ABLATION.map((a) => fresh.get(a.name) ?? kept.get(a.name)).filter((r): r is AblationRow => r !== undefined));
  }
  const result: AblationResult = {
    finishedAt: new Date().toISOString(),
    ...(previous ? { crossValidatedAt: previous.crossValidatedAt ?? previous.finishedAt } : {}),
    folds: folds.length,
    heldOut: outer.test.length,
    timing: { calls, rounds, threads: 1, loadAverage: (await import('node:os')).loadavg().map((l) => round(l, 2)) },
    rows: results,
    references: references.map((r) => ({
      name: r.name,
      engineMsPerCall: round(median(engine.get(r.name)!), 3),
      tokenizerMsPerText: round(median(tokenizer.get(r.name)!), 3),
      heldOutAccuracy: r.heldOutAccuracy,
      modelBytes: statSync(r.file).size,
      note: r.note,
    })),
  };
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(`${values.out}.json`, JSON.stringify(result, null, 2) + '\n');
  writeFileSync(`${values.out}.md`, ablationMarkdown(result));
  rmSync(work, { recursive: true, force: true });
  log(`wrote ${values.out}.json and .md`);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
