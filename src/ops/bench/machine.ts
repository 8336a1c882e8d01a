import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../config/serve-config.js';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  /** CPU features that decide int8 speed (VNNI) and vector width. */
  cpuFlags: string[];
  memoryGiB: number;
  platform: string;
  node: string;
  /** 1-minute load average when the run started (others' work skews timings). */
  loadAverage: number;
  versions: Record<string, string>;
}

function packageVersion(name: string): string {
  try {
    const raw = readFileSync(path.join(PACKAGE_ROOT, 'node_modules', name, 'package.json'), 'utf8');
    return (JSON.parse(raw) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  let flags: string[] = [];
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const line = info.split('\n').find((l) => l.startsWith('flags')) ?? '';
    const wanted = ['avx2', 'avx512f', 'avx512_vnni', 'avx_vnni', 'amx_int8'];
    flags = wanted.filter((f) => new RegExp(`\\b${f}\\b`).test(line));
  } catch {
    // not Linux
  }
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpuFlags: flags,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
    loadAverage: Number(os.loadavg()[0]!.toFixed(2)),
    versions: Object.fromEntries(
      ['onnxruntime-node', '@huggingface/transformers', 'fastify', 'prom-client', 'autocannon'].map((n) => [n, packageVersion(n)]),
    ),
  };
}
