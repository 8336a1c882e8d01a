import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawHttpPool, rawRequest } from '../../src/ops/bench/raw-http.js';

/**
 * The load generators' lean HTTP/1.1 client against node:http's server: what a load test reads
 * of an answer (status, Retry-After, Connection: close), bodies by length and chunked, answers
 * split across reads, sockets reused, closed and replaced, and failures named.
 */

let server: http.Server;
let port: number;
const bodiesSeen: string[] = [];
const connections = new Set<string>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    connections.add(`${req.socket.remotePort}`);
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      bodiesSeen.push(body);
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/refuse') {
        res.writeHead(503, { 'Retry-After': '2', 'Content-Type': 'application/json' });
        return res.end('{"error":"overloaded"}');
      }
      if (url.pathname === '/close') {
        res.writeHead(200, { Connection: 'close', 'Content-Length': '2' });
        return res.end('ok');
      }
      if (url.pathname === '/chunked') {
        res.writeHead(200, { 'Content-Type': 'text/plain' }); // no length: node sends it chunked
        res.write('a'.repeat(70_000));
        setTimeout(() => res.end('tail'), 5);
        return;
      }
      if (url.pathname === '/slow') return void setTimeout(() => res.end('late'), 300);
      if (url.pathname === '/big') return res.end('x'.repeat(200_000));
      res.writeHead(201, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ echo: body }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const target = () => ({ host: '127.0.0.1', port });
const get = (path: string) => rawRequest({ method: 'GET', path, host: `127.0.0.1:${port}` });

describe('RawHttpPool', () => {
  it('sends the prepared body and reads status and headers of each answer', async () => {
    const pool = new RawHttpPool(target(), { maxSockets: 2 });
    const answer = await pool.request(rawRequest({ method: 'POST', path: '/echo', host: `127.0.0.1:${port}`, body: '{"text":"héllo"}' }));
    expect(answer).toEqual({ status: 201, retryAfter: false, close: false });
    expect(bodiesSeen.at(-1)).toBe('{"text":"héllo"}');
    expect(await pool.request(get('/refuse'))).toEqual({ status: 503, retryAfter: true, close: false });
    pool.destroy();
  });

  it('reuses an idle socket, and never opens more than maxSockets', async () => {
    const pool = new RawHttpPool(target(), { maxSockets: 3 });
    connections.clear();
    const answers = await Promise.all(Array.from({ length: 30 }, () => pool.request(get('/echo'))));
    expect(answers.every((a) => a.status === 201)).toBe(true);
    expect(connections.size).toBeLessThanOrEqual(3);
    expect(pool.sockets).toBeLessThanOrEqual(3);
    pool.destroy();
  });

  it('reads long, chunked and split answers to their end, keeping the socket', async () => {
    const pool = new RawHttpPool(target(), { maxSockets: 1 });
    connections.clear();
    expect((await pool.request(get('/big'))).status).toBe(200);
    expect((await pool.request(get('/chunked'))).status).toBe(200);
    expect((await pool.request(get('/echo'))).status).toBe(201);
    expect(connections.size).toBe(1);
    pool.destroy();
  });

  it('drops a socket whose answer says Connection: close, and opens another for the next request', async () => {
    const pool = new RawHttpPool(target(), { maxSockets: 1 });
    connections.clear();
    expect(await pool.request(get('/close'))).toEqual({ status: 200, retryAfter: false, close: true });
    expect((await pool.request(get('/echo'))).status).toBe(201);
    expect(connections.size).toBe(2);
    pool.destroy();
  });

  it('names a refused connection and a request that outlives its timeout', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = new RawHttpPool({ host: '127.0.0.1', port: deadPort }, { maxSockets: 1 });
    expect((await refused.request(get('/echo'))).error).toBe('ECONNREFUSED');
    refused.destroy();

    const pool = new RawHttpPool(target(), { maxSockets: 1, timeoutMs: 50 });
    const late = await pool.request(get('/slow'));
    expect(late.error).toBe('CLIENT_TIMEOUT');
    expect(late.status).toBeUndefined();
    // The socket that timed out is gone; the pool goes on with a new one.
    expect((await pool.request(get('/echo'))).status).toBe(201);
    pool.destroy();
  });
});
