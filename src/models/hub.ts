import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SpecError } from './spec.js';

/**
 * Hugging Face hub models (`hf:owner/name[@revision]`), fetched once into a local cache in the
 * hub's own URL layout (`{endpoint}/{repo}/resolve/{revision}/{file}`) and then served like any
 * Hugging Face folder. A cached model loads without the network.
 */

export interface HubReference {
  repo: string;
  revision: string;
}

export interface HubOptions {
  /** Hub base URL; HF_ENDPOINT, as huggingface_hub reads it. */
  endpoint?: string;
  /** Where downloads are kept; VIGIL_CACHE_DIR, else ~/.cache/vigil/hub. */
  cacheDir?: string;
  /** Bearer token for gated or private repositories. Never logged. */
  token?: string;
  fetch?: typeof fetch;
}

const HUB_PREFIX = 'hf:';
const REQUIRED_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json'];
const OPTIONAL_FILES = ['special_tokens_map.json'];
/** The int8 graph first: a quarter of the size and faster on CPU. */
const ONNX_CANDIDATES = ['onnx/model_quantized.onnx', 'onnx/model.onnx'];
/** Written last: its presence means every file the model needs is in the folder. */
const COMPLETE_MARKER = '.vigil-complete';
const REPO_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function isHubReference(raw: string): boolean {
  return raw.startsWith(HUB_PREFIX);
}

export function parseHubReference(raw: string): HubReference {
  const body = raw.slice(HUB_PREFIX.length);
  const [repo = '', revision = 'main'] = body.split('@');
  if (!REPO_PATTERN.test(repo)) throw new SpecError(`"${raw}" is not a hub model: expected hf:owner/name or hf:owner/name@revision`);
  if (!/^[A-Za-z0-9._/-]+$/.test(revision) || revision.includes('..')) throw new SpecError(`"${raw}": bad revision "${revision}"`);
  return { repo, revision };
}

export function hubOptionsFromEnvironment(env: NodeJS.ProcessEnv): HubOptions {
  return {
    endpoint: env.HF_ENDPOINT,
    cacheDir: env.VIGIL_CACHE_DIR ? path.join(env.VIGIL_CACHE_DIR, 'hub') : undefined,
    token: env.HF_TOKEN,
  };
}

export function cacheFolder(ref: HubReference, cacheDir: string): string {
  return path.join(cacheDir, ...ref.repo.split('/'), ref.revision);
}

class HubError extends SpecError {}

async function download(url: string, target: string, options: Required<Pick<HubOptions, 'fetch'>> & HubOptions): Promise<'ok' | 'missing'> {
  const response = await options
    .fetch(url, { headers: options.token ? { authorization: `Bearer ${options.token}` } : {}, redirect: 'follow' })
    .catch((error: unknown) => {
      throw new HubError(`cannot reach the hub for ${url}: ${(error as Error).message}`);
    });
  if (response.status === 404) return 'missing';
  if (response.status === 401 || response.status === 403) {
    throw new HubError(`the hub refused ${url} (${response.status}): the repository is gated or private; set HF_TOKEN`);
  }
  if (!response.ok || !response.body) throw new HubError(`the hub answered ${response.status} for ${url}`);
  mkdirSync(path.dirname(target), { recursive: true });
  // Written beside the target and renamed, so an interrupted download never looks complete.
  const partial = `${target}.partial-${process.pid}`;
  try {
    await pipeline(Readable.fromWeb(response.body as never), createWriteStream(partial));
    renameSync(partial, target);
  } catch (error) {
    rmSync(partial, { force: true });
    throw new HubError(`download of ${url} failed: ${(error as Error).message}`);
  }
  return 'ok';
}

/**
 * Makes sure a hub model is in the cache and returns its folder. Files already there are not
 * fetched again; a model fully cached needs no network at all.
 */
export async function fetchHubModel(raw: string, options: HubOptions = {}): Promise<string> {
  const ref = parseHubReference(raw);
  const settings = {
    endpoint: (options.endpoint ?? 'https://huggingface.co').replace(/\/+$/, ''),
    cacheDir: options.cacheDir ?? path.join(os.homedir(), '.cache', 'vigil', 'hub'),
    token: options.token,
    fetch: options.fetch ?? fetch,
  };
  const folder = cacheFolder(ref, settings.cacheDir);
  if (existsSync(path.join(folder, COMPLETE_MARKER))) return folder;
  const url = (file: string) => `${settings.endpoint}/${ref.repo}/resolve/${encodeURIComponent(ref.revision)}/${file}`;
  const fetchFile = async (file: string): Promise<'ok' | 'missing'> =>
    existsSync(path.join(folder, file)) ? 'ok' : download(url(file), path.join(folder, file), settings);

  for (const file of REQUIRED_FILES) {
    if ((await fetchFile(file)) === 'missing') throw new HubError(`${ref.repo}@${ref.revision} has no ${file}: not a transformers.js-style model`);
  }
  for (const file of OPTIONAL_FILES) await fetchFile(file);
  const graph = ONNX_CANDIDATES.find((file) => existsSync(path.join(folder, file)));
  for (const file of graph ? [] : ONNX_CANDIDATES) {
    if ((await fetchFile(file)) === 'ok') {
      writeFileSync(path.join(folder, COMPLETE_MARKER), JSON.stringify({ repo: ref.repo, revision: ref.revision, graph: file }));
      return folder;
    }
  }
  if (graph) {
    writeFileSync(path.join(folder, COMPLETE_MARKER), JSON.stringify({ repo: ref.repo, revision: ref.revision, graph }));
    return folder;
  }
  throw new HubError(`${ref.repo}@${ref.revision} has no ONNX graph (looked for ${ONNX_CANDIDATES.join(', ')})`);
}
