import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { cpus, totalmem, platform, arch, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSpec, SPEC_FILE, type ModelSpec } from '../models/spec.js';
import { round } from './metrics.js';
import type { TrainResult } from './types.js';

/** The repository root (this file is src/training/artifacts.ts or dist/training/artifacts.js). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The shared data folder beside the checkout. */
export const sharedDir = resolve(repoRoot, '..', 'shared');

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function machine(): Record<string, unknown> {
  const c = cpus();
  return {
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    platform: `${platform()}-${arch()}`,
    node: process.version,
    /** 1-minute load average when the run ended: timings on a shared machine are only comparable at similar load. */
    loadAverage: Math.round(loadavg()[0]! * 100) / 100,
  };
}

/** Validates the spec with the server's own schema, then writes it. */
export function writeSpec(dir: string, spec: ModelSpec): void {
  parseSpec(spec, resolve(dir, SPEC_FILE));
  mkdirSync(dir, { recursive: true });
  writeFileSync(resolve(dir, SPEC_FILE), JSON.stringify(spec, null, 2) + '\n');
}

export function readSpec(dir: string): ModelSpec {
  const file = resolve(dir, SPEC_FILE);
  return parseSpec(JSON.parse(readFileSync(file, 'utf8')), file);
}

export function folderBytes(dir: string): number {
  return readdirSync(dir).reduce((s, f) => s + statSync(resolve(dir, f)).size, 0);
}

export function nowIso(): string {
  return new Date().toISOString();
}

/** The fields every spec's `training` record ends with: how long it took, when, on what. */
export function runRecord(startedAt: number, trainSeconds: number): Record<string, unknown> {
  return {
    trainSeconds: round(trainSeconds, 1),
    durationSeconds: round((performance.now() - startedAt) / 1000, 1),
    finishedAt: nowIso(),
    machine: machine(),
  };
}

/** Writes the spec (checked with the server's own schema) and its model card next to the graph. */
export function writeArtifacts(out: string, spec: ModelSpec, card: string, metrics: Record<string, number>): TrainResult {
  writeSpec(out, spec);
  writeFileSync(resolve(out, 'MODEL_CARD.md'), card);
  return { out, metrics, seconds: (spec.training as { durationSeconds: number }).durationSeconds, bytes: folderBytes(out) };
}
