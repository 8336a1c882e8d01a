#!/usr/bin/env node
// What a refusal costs the server thread, against a served prediction: the number that decides
// how much goodput an open-loop overload can keep. If a served request costs 1 and a refusal r,
// a server offered k times its capacity C that answers everything serves at most
//   S / C = (1 - k r) / (1 - r)          (from S + r (k C - S) = C)
// so at 3x, keeping 80% of capacity needs r <= 0.09.
//
// Three servers, each on its own port, driven in interleaved rounds by autocannon (closed loop,
// so every request is answered and none waits in a socket):
//   served   vigil serve with the embedded sentiment model: every answer a 200
//   refused  the same with --max-in-flight 1: nearly every answer a 503 + Retry-After from the
//            door (the few 200s are taken out with the served cost of the same round)
//   fastify  fastify alone (Vigil's version, its default logger off), refusing in an onRequest
//            hook with the same answer: what the framework adds to Node's HTTP stack
//   floor    node:http alone, reading the body and answering 503 + Retry-After with a short JSON
//            body: what any refusal costs in Node's HTTP stack, however early it is decided
// Figures: server-thread CPU per answer (utime + stime of the main thread, /proc/PID/task/PID/stat).
//
// With --baseline DIR (another built checkout), its refusals are measured in the same rounds too.
//
//   npm run build && node bench/refusal-cost.mjs [--duration 5] [--rounds 3] [--connections 64] [--baseline DIR]
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { cpuSeconds, freePort, waitFor } from './proc.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { duration: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' }, connections: { type: 'string', default: '64' }, baseline: { type: 'string' } } });
const DURATION_S = Number(values.duration);
const ROUNDS = Number(values.rounds);
const CONNECTIONS = Number(values.connections);
const BODY = JSON.stringify({ text: 'a warm, funny and moving film about two friends' });

const FLOOR_SERVER = `
const http = require('node:http');
const body = JSON.stringify({ error: { code: 'overloaded', message: 'the server is at its in-flight bound; retry after 1 s' } });
http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'retry-after': '1' });
    res.end(body);
  });
}).listen(Number(process.argv[1]), '127.0.0.1', () => console.log('listening'));
`;

const FASTIFY_SERVER = `
const fastify = require(process.argv[2])();
fastify.addHook('onRequest', (request, reply, done) => {
  reply.code(503).header('retry-after', '1').send({ error: { code: 'overloaded', message: 'the server is at its in-flight bound; retry after 1 s' } });
});
fastify.post('/predict', async () => ({}));
fastify.listen({ port: Number(process.argv[1]), host: '127.0.0.1' }).then(() => console.log('listening'));
`;

async function startVigil(extra, root = ROOT, env = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, [`${root}/dist/cli/main.js`, 'serve', '--no-embedded', '--model', `${root}/models/sentiment`, '--port', String(port), '--grpc-port', '0', ...extra], { stdio: 'ignore', env: { ...process.env, ...env } });
  await waitFor(`http://127.0.0.1:${port}/ready`, 200);
  return { child, port };
}

async function startBare(source, ...args) {
  const port = await freePort();
  const child = spawn(process.execPath, ['-e', source, String(port), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => child.stdout.once('data', resolve));
  return { child, port };
}

function load(port, seconds) {
  return new Promise((resolve, reject) =>
    autocannon(
      { url: `http://127.0.0.1:${port}/predict`, method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY, connections: CONNECTIONS, duration: seconds },
      (error, result) => (error ? reject(error) : resolve(result)),
    ),
  );
}

/** One measured run: answers by class and server-thread CPU seconds. */
async function measure(server) {
  const before = cpuSeconds(server.child.pid, { mainThread: true });
  const result = await load(server.port, DURATION_S);
  const cpu = cpuSeconds(server.child.pid, { mainThread: true }) - before;
  return { ok: result['2xx'], refused: result['5xx'], other: result['1xx'] + result['3xx'] + result['4xx'] + result.errors + result.timeouts, cpu };
}

const servers = {
  served: await startVigil([]),
  // --refusal-pause-ms 0: every refusal read and answered at once, so each is counted (with the
  // pause, a refused connection waits before its next request is read: fewer refusals, same cost each).
  refused: await startVigil(['--max-in-flight', '1', '--refusal-pause-ms', '0']),
  fastify: await startBare(FASTIFY_SERVER, `${ROOT}/node_modules/fastify`),
  floor: await startBare(FLOOR_SERVER),
  // A baseline from before the pause existed would refuse the flag: it reads on at once anyway.
  ...(values.baseline ? { baseline: await startVigil(['--max-in-flight', '1'], values.baseline, { VIGIL_REFUSAL_PAUSE_MS: '0' }) } : {}),
};
try {
  for (const server of Object.values(servers)) await load(server.port, 2); // warm-up: JIT, caches
  const rounds = [];
  for (let round = 0; round < ROUNDS; round++) {
    const served = await measure(servers.served);
    const refused = await measure(servers.refused);
    const fastify = await measure(servers.fastify);
    const floor = await measure(servers.floor);
    const baseline = servers.baseline && (await measure(servers.baseline));
    const servedUs = (1e6 * served.cpu) / served.ok;
    // The refused server's few 200s at the served server's cost of this round; the rest is the refusals'.
    const refusalUs = (1e6 * (refused.cpu - (refused.ok * servedUs) / 1e6)) / refused.refused;
    const fastifyUs = (1e6 * fastify.cpu) / fastify.refused;
    const floorUs = (1e6 * floor.cpu) / floor.refused;
    const baselineUs = baseline ? (1e6 * (baseline.cpu - (baseline.ok * servedUs) / 1e6)) / baseline.refused : NaN;
    rounds.push({ servedUs, refusalUs, fastifyUs, floorUs, baselineUs, served, refused, fastify, floor });
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const servedUs = median(rounds.map((r) => r.servedUs));
  const refusalUs = median(rounds.map((r) => r.refusalUs));
  const fastifyUs = median(rounds.map((r) => r.fastifyUs));
  const floorUs = median(rounds.map((r) => r.floorUs));
  const baselineUs = median(rounds.map((r) => r.baselineUs));
  const goodputAt = (k, r) => Math.max(0, (1 - k * r) / (1 - r));
  const fmt = (x) => x.toFixed(1);
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model.trim()}, node ${process.version}, load average ${loadavg()[0].toFixed(2)}; ${ROUNDS} rounds of ${DURATION_S} s, ${CONNECTIONS} connections`);
  console.log('round  served µs  refusal µs  fastify µs  floor µs   (server-thread CPU per answer)');
  const row = (label, a, b, c, d) => `${label.padStart(6)} ${fmt(a).padStart(9)}  ${fmt(b).padStart(10)}  ${fmt(c).padStart(10)}  ${fmt(d).padStart(8)}`;
  rounds.forEach((r, i) => console.log(row(String(i + 1), r.servedUs, r.refusalUs, r.fastifyUs, r.floorUs)));
  console.log(row('median', servedUs, refusalUs, fastifyUs, floorUs));
  const r = refusalUs / servedUs;
  const rFloor = floorUs / servedUs;
  console.log(`refusal / served r = ${r.toFixed(3)}: at 3x offered, at most ${(100 * goodputAt(3, r)).toFixed(0)}% of capacity served when every request is answered`);
  console.log(`floor / served = ${rFloor.toFixed(3)}: the best any refusal in Node's HTTP stack allows, ${(100 * goodputAt(3, rFloor)).toFixed(0)}% at 3x (80% needs r <= 0.091)`);
  if (values.baseline) console.log(`baseline ${values.baseline}: refusal ${fmt(baselineUs)} µs (rounds: ${rounds.map((x) => fmt(x.baselineUs)).join(', ')}), this checkout / baseline = ${(refusalUs / baselineUs).toFixed(3)}`);
  console.log(`fastify / served = ${(fastifyUs / servedUs).toFixed(3)}: a refusal as early as fastify allows, ${(100 * goodputAt(3, fastifyUs / servedUs)).toFixed(0)}% at 3x`);
  const bad = rounds.flatMap((x) => [x.served.other, x.refused.other, x.fastify.other, x.floor.other]).reduce((a, b) => a + b, 0);
  if (bad > 0) console.log(`note: ${bad} answers were neither 2xx nor 5xx (or were client errors)`);
} finally {
  for (const server of Object.values(servers)) server.child.kill('SIGTERM');
}
