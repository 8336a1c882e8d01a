import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseSpec, SPEC_FILE, SpecError, type ModelSpec } from './spec.js';

/**
 * One model version found on disk: its spec, the folder its artifact paths are relative to, the
 * folder the model was read from (where a reload reads it again), and the hub id it was fetched
 * as, if it came from the hub.
 */
export interface ModelSource {
  spec: ModelSpec;
  dir: string;
  /** The folder given to readModelFolder: the version's own, or the parent of numbered versions. */
  folder: string;
  /** `hf:owner/name[@revision]` when the folder is the hub cache's copy of that model. */
  hub?: string;
}

const HF_ONNX_FILES = ['onnx/model_quantized.onnx', 'onnx/model.onnx', 'model_quantized.onnx', 'model.onnx'];

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new SpecError(`${file}: ${(error as Error).message}`);
  }
}

/** Model names appear in URLs and metric labels: lower-case letters, digits, '.', '_' and '-'. */
export function toModelName(raw: string): string {
  const name = raw.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '').replace(/[^a-z0-9]+$/, '');
  if (!name) throw new SpecError(`cannot make a model name from "${raw}"`);
  return name;
}

export function isHuggingFaceFolder(dir: string): boolean {
  return existsSync(path.join(dir, 'config.json')) && existsSync(path.join(dir, 'tokenizer.json'));
}

/**
 * A Hugging Face / transformers.js folder (config.json, tokenizer.json, onnx/model*.onnx) is a
 * text classifier: its spec is derived from config.json (labels from id2label).
 */
export function specFromHuggingFaceFolder(dir: string, name: string): ModelSpec {
  const config = readJson(path.join(dir, 'config.json')) as {
    id2label?: Record<string, string>;
    max_position_embeddings?: number;
    _name_or_path?: string;
    model_type?: string;
  };
  const onnxFile = HF_ONNX_FILES.find((f) => existsSync(path.join(dir, f)));
  if (!onnxFile) throw new SpecError(`${dir}: no ONNX file (looked for ${HF_ONNX_FILES.join(', ')})`);
  const id2label = config.id2label ?? {};
  const labels = Object.keys(id2label)
    .map(Number)
    .sort((a, b) => a - b)
    .map((i) => id2label[String(i)]!);
  return parseSpec(
    {
      name,
      version: '1',
      task: 'text-classification',
      runtime: 'onnx',
      description: `Hugging Face model folder ${config._name_or_path ?? path.basename(dir)} (${config.model_type ?? 'unknown architecture'})`,
      onnx: { file: onnxFile },
      labels: labels.length > 0 ? labels : undefined,
      preprocessing: { tokenizer: '.', maxLength: Math.min(config.max_position_embeddings ?? 512, 512) },
      provenance: { source: 'huggingface-folder', path: dir },
    },
    dir,
  );
}

function specFromFolder(dir: string, name?: string): ModelSpec {
  const spec = parseSpec(readJson(path.join(dir, SPEC_FILE)), path.join(dir, SPEC_FILE));
  return name ? { ...spec, name } : spec;
}

/**
 * Reads one model from a folder, in any of the layouts Vigil understands:
 * - `<dir>/vigil.model.json` (one version);
 * - `<dir>/<version>/vigil.model.json` (Triton-style numbered versions, all of them);
 * - a Hugging Face folder.
 * `name` overrides the name in the spec (or the folder's name).
 */
export function readModelFolder(dir: string, name?: string): ModelSource[] {
  const absolute = path.resolve(dir);
  if (!existsSync(absolute) || !statSync(absolute).isDirectory()) throw new SpecError(`${dir}: no such model folder`);
  if (existsSync(path.join(absolute, SPEC_FILE))) return [{ spec: specFromFolder(absolute, name), dir: absolute, folder: absolute }];
  if (isHuggingFaceFolder(absolute)) {
    return [{ spec: specFromHuggingFaceFolder(absolute, name ?? toModelName(path.basename(absolute))), dir: absolute, folder: absolute }];
  }
  const versions = readdirSync(absolute, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(path.join(absolute, entry.name, SPEC_FILE)))
    .map((entry) => path.join(absolute, entry.name));
  if (versions.length === 0) throw new SpecError(`${dir}: no ${SPEC_FILE}, no version folders and not a Hugging Face folder`);
  return versions.map((versionDir) => {
    const spec = specFromFolder(versionDir, name);
    return { spec: { ...spec, version: path.basename(versionDir) }, dir: versionDir, folder: absolute };
  });
}

/** Every model below a repository root: each sub-folder is one model. */
export function scanRepository(root: string): ModelSource[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .sort((a, b) => compareNames(a.name, b.name))
    .flatMap((entry) => readModelFolder(path.join(root, entry.name)));
}

/**
 * Names in code-unit order, the same on every machine whatever its locale. Not localeCompare:
 * its first call loads ICU's collation data for sorting a few folder names (in a bare node, 6.6 MiB
 * of resident memory, 6 more for a numeric compare; in the DistilBERT server 1.7 MiB, as the
 * tokenizer's Unicode handling touches part of the same data; docs/performance.md, "Memory").
 */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Versions sort numerically when they are numbers ("10" after "9"), else by name. */
export function compareVersions(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return compareNames(a, b);
}

/**
 * A version folder's identity: every file's path, size and modification time (three levels
 * deep). A reload of a version whose fingerprint and spec did not change keeps the running one.
 */
export function folderFingerprint(dir: string): string {
  const entries: string[] = [];
  const walk = (folder: string, depth: number) => {
    if (depth > 3) return;
    for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) => compareNames(a.name, b.name))) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) walk(full, depth + 1);
      else if (entry.isFile()) {
        const stat = statSync(full);
        entries.push(`${path.relative(dir, full)}:${stat.size}:${stat.mtimeMs}`);
      }
    }
  };
  if (existsSync(dir)) walk(dir, 0);
  return entries.join('|');
}
