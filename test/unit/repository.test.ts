import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareNames, compareVersions, readModelFolder, scanRepository, toModelName } from '../../src/models/repository.js';
import { SpecError } from '../../src/models/spec.js';

const spec = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ name: 'toy', version: '1', task: 'text-classification', runtime: 'onnx', onnx: { file: 'model.onnx' }, ...extra });

function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'vigil-repo-'));
}

describe('model repository', () => {
  it('reads a folder with a spec', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'vigil.model.json'), spec());
    const [source] = readModelFolder(dir);
    expect(source!.spec).toMatchObject({ name: 'toy', version: '1', task: 'text-classification' });
    expect(source!.dir).toBe(dir);
    expect(readModelFolder(dir, 'renamed')[0]!.spec.name).toBe('renamed');
  });

  it('reads numbered version folders, the folder name being the version', () => {
    const dir = tempDir();
    for (const v of ['1', '2', '10']) {
      mkdirSync(path.join(dir, v));
      writeFileSync(path.join(dir, v, 'vigil.model.json'), spec());
    }
    const versions = readModelFolder(dir).map((s) => s.spec.version).sort(compareVersions);
    expect(versions).toEqual(['1', '2', '10']);
  });

  it('orders names by code unit, whatever the machine\'s locale, and versions numerically before that', () => {
    // localeCompare would put 'b' before 'C' and 'ä' right after 'a' (and load ICU's collation data).
    expect(['b', 'C', 'a', 'ä', 'a-2', 'a10'].sort(compareNames)).toEqual(['C', 'a', 'a-2', 'a10', 'b', 'ä']);
    expect(['10', '9', 'beta', 'alpha', '2'].sort(compareVersions)).toEqual(['2', '9', '10', 'alpha', 'beta']);
  });

  it('derives a spec from a Hugging Face folder, labels from id2label in index order', () => {
    const dir = path.join(tempDir(), 'My_Model-SST2');
    mkdirSync(path.join(dir, 'onnx'), { recursive: true });
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ id2label: { 1: 'POS', 0: 'NEG', 2: 'NEUTRAL' }, max_position_embeddings: 1024 }));
    writeFileSync(path.join(dir, 'tokenizer.json'), '{}');
    writeFileSync(path.join(dir, 'onnx', 'model.onnx'), '');
    const [source] = readModelFolder(dir);
    expect(source!.spec).toMatchObject({
      name: 'my_model-sst2',
      task: 'text-classification',
      labels: ['NEG', 'POS', 'NEUTRAL'],
      onnx: { file: 'onnx/model.onnx' },
      preprocessing: { tokenizer: '.', maxLength: 512 },
    });
    writeFileSync(path.join(dir, 'onnx', 'model_quantized.onnx'), '');
    expect(readModelFolder(dir)[0]!.spec.onnx!.file).toBe('onnx/model_quantized.onnx');
  });

  it('says which field of a spec is wrong', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'vigil.model.json'), spec({ task: 'telepathy' }));
    expect(() => readModelFolder(dir)).toThrow(SpecError);
    expect(() => readModelFolder(dir)).toThrow(/task/);
    writeFileSync(path.join(dir, 'vigil.model.json'), '{"name": ');
    expect(() => readModelFolder(dir)).toThrow(/vigil.model.json/);
    writeFileSync(path.join(dir, 'vigil.model.json'), spec({ onnx: undefined }));
    expect(() => readModelFolder(dir)).toThrow(/needs an "onnx" section/);
  });

  it('refuses a folder that is no model, and a missing one', () => {
    expect(() => readModelFolder(tempDir())).toThrow(/no vigil.model.json/);
    expect(() => readModelFolder('/no/such/folder')).toThrow(/no such model folder/);
  });

  it('scans a repository root, one model per sub-folder, skipping hidden ones', () => {
    const root = tempDir();
    for (const name of ['b-model', 'a-model', '.cache']) {
      mkdirSync(path.join(root, name));
      writeFileSync(path.join(root, name, 'vigil.model.json'), spec({ name }));
    }
    expect(scanRepository(root).map((s) => s.spec.name)).toEqual(['a-model', 'b-model']);
    expect(scanRepository(path.join(root, 'absent'))).toEqual([]);
  });

  it('makes URL- and label-safe model names', () => {
    expect(toModelName('DistilBERT Base (SST-2)')).toBe('distilbert-base-sst-2');
    expect(() => toModelName('***')).toThrow(SpecError);
  });
});
