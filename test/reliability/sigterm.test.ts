import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { startVigil } from '../helpers/server.js';
import { report, seconds, SENTIMENT_BODIES } from './harness.js';

/**
 * SIGTERM under load, with the default drain settings: clients on keep-alive connections
 * (node:http, which honours Connection: close) predict flat out; the server gets SIGTERM.
 * Promise: every request sent before the signal is answered 200 (nothing in flight is lost);
 * after it, answers are 200 or 503 with Retry-After and say Connection: close, and a client
 * that honours that sees its next connection refused, never a reset.
 */

interface Outcome {
  id: string;
  sentAt: number;
  status?: number;
  error?: string;
  close?: boolean;
  retryAfter?: boolean;
}

let nextId = 0;

function post(agent: Agent, url: string, body: string): Promise<Outcome> {
  const sentAt = performance.now();
  const id = `sigterm-${nextId++}`;
  return new Promise((resolve) => {
    const req = request(new URL('/predict', url), { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-request-id': id } }, (res) => {
      res.resume();
      res.once('end', () => resolve({ id, sentAt, status: res.statusCode, close: res.headers.connection === 'close', retryAfter: res.headers['retry-after'] !== undefined }));
      res.once('error', (error: NodeJS.ErrnoException) => resolve({ id, sentAt, error: error.code ?? error.message }));
    });
    req.once('error', (error: NodeJS.ErrnoException) => resolve({ id, sentAt, error: error.code ?? error.message }));
    req.end(body);
  });
}

describe('SIGTERM under load', () => {
  it('0 failed requests in flight, Connection: close while draining, no resets for clients that honour it, every answered prediction in the log', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-sigterm-'));
    const db = path.join(dir, 'predictions.db');
    const server = await startVigil(['--prediction-log', db]);
    await server.waitUntilReady();
    const agent = new Agent({ keepAlive: true, maxSockets: 32 });
    const outcomes: Outcome[] = [];
    let signalAt = Infinity;
    const loop = async (i: number) => {
      for (let n = 0; ; n++) {
        const outcome = await post(agent, server.url, SENTIMENT_BODIES[(i + n) % SENTIMENT_BODIES.length]!);
        outcomes.push(outcome);
        if (outcome.error === 'ECONNREFUSED') return; // the listener is closed: this client stops
        if (outcome.error && performance.now() > signalAt + 30_000) return;
      }
    };
    const clients = Promise.all(Array.from({ length: 32 }, (_, i) => loop(i)));
    await new Promise((r) => setTimeout(r, seconds(3) * 1000));
    signalAt = performance.now();
    server.process.kill('SIGTERM');
    const exitCode = await server.exited;
    await clients;
    agent.destroy();

    const before = outcomes.filter((o) => o.sentAt < signalAt);
    const after = outcomes.filter((o) => o.sentAt >= signalAt);
    const failedInFlight = before.filter((o) => o.status !== 200);
    const resets = outcomes.filter((o) => o.error !== undefined && o.error !== 'ECONNREFUSED');
    const answeredAfter = after.filter((o) => o.status !== undefined);
    const database = new Database(db, { readonly: true });
    const logged = new Set((database.prepare('SELECT request_id FROM predictions').all() as { request_id: string }[]).map((r) => r.request_id));
    database.close();
    rmSync(dir, { recursive: true, force: true });
    const notLogged = outcomes.filter((o) => o.status === 200 && !logged.has(o.id));
    const figures = {
      before_signal: before.length,
      failed_in_flight: failedInFlight.length,
      after_signal: after.length,
      after_200: after.filter((o) => o.status === 200).length,
      after_503: after.filter((o) => o.status === 503).length,
      after_refused_connection: after.filter((o) => o.error === 'ECONNREFUSED').length,
      after_without_connection_close: answeredAfter.filter((o) => !o.close).length,
      resets: resets.length,
      answered_200: outcomes.filter((o) => o.status === 200).length,
      answered_not_in_log: notLogged.length,
      reset_codes: [...new Set(resets.map((o) => o.error))],
      exit_code: exitCode,
    };
    report('sigterm-under-load', figures);
    expect(exitCode).toBe(0);
    expect(before.length).toBeGreaterThan(0);
    expect(failedInFlight).toEqual([]);
    expect(resets).toEqual([]);
    expect(notLogged).toEqual([]);
    // Answers to requests sent after the signal: 200, or 503 with Retry-After.
    for (const o of answeredAfter) {
      expect([200, 503]).toContain(o.status);
      if (o.status === 503) expect(o.retryAfter).toBe(true);
    }
  });
});
