#!/usr/bin/env node
/**
 * `vigil` entry point: one module per command, loaded lazily so that `vigil smoke`
 * does not pay for onnxruntime and `vigil serve` does not pay for the trainers.
 */
import nodeModule from 'node:module';
import { reportFailure, vigilVersion } from './failure.js';

type CommandModule = { run(args: string[]): Promise<number> };

const commands: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  serve: { summary: 'serve models over HTTP (default: the embedded models)', load: () => import('./serve.js') },
  train: { summary: 'train an embedded model and export it to ONNX', load: () => import('./train.js') },
  eval: { summary: "evaluate a model on held-out data and compare with its spec's numbers", load: () => import('./eval.js') },
  smoke: { summary: 'check a running server: alive, ready, expected answers per model', load: () => import('./smoke.js') },
  watchdog: { summary: 'run the smoke check on a schedule and restart/redeploy a failing service', load: () => import('./watchdog.js') },
  bench: { summary: 'load-test a server: throughput, p50/p90/p99 latency, errors, server CPU and RSS', load: () => import('./bench.js') },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: vigil <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nvigil <command> --help for a command's options; vigil --version`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v' || name === 'version') {
    console.log(`vigil ${vigilVersion()} (node ${process.version})`);
    return 0;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    console.error(`vigil: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  // Before the command's modules load: a restart then reads V8's compiled code from disk instead
  // of compiling fastify, pino, prom-client and our bundle again (docs/performance.md, "Cold
  // start"). Node's own NODE_COMPILE_CACHE picks the folder and NODE_DISABLE_COMPILE_CACHE=1
  // turns it off; a folder that cannot be written only means a slower start. (Node 22.1+; the
  // engines field allows 22.0, which has no such function.)
  nodeModule.enableCompileCache?.();
  try {
    const mod = await command.load();
    return await mod.run(rest);
  } catch (error) {
    // A missing optional package, a port in use, a missing folder: one line that says what to do.
    reportFailure(name, error);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    reportFailure('', err);
    process.exitCode = 1;
  },
);
