/**
 * The real `vigil watchdog` against real Vigil processes: it must heal a server killed with
 * SIGKILL, escalate to the redeploy command when the restart command fails, never act twice
 * when two watchdogs watch one service, hold its cooldown and its action budget. Actions are
 * counted from its logs, its metrics and the restart script's own record, never from time.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT } from '../helpers/server.js';
import { freePort, is, sample, service, startWatchdog, type Service, type WatchdogProcess } from './watchdog-helpers.js';

const work = mkdtempSync(path.join(tmpdir(), 'vigil-watchdog-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let dirCount = 0;
const freshDir = () => mkdtempSync(path.join(work, `case${++dirCount}-`));

const services: Service[] = [];
const watchdogs: WatchdogProcess[] = [];
afterEach(async () => {
  await Promise.all(watchdogs.splice(0).map((w) => w.stop()));
  for (const s of services.splice(0)) s.killAll();
});

/** Fast settings for tests; the defaults are minutes. */
const FAST = ['--interval', '300ms', '--failures', '1', '--settle', '30s', '--timeout', '5s', '--log-level', 'info'];

async function metricsOf(watchdog: WatchdogProcess): Promise<string> {
  const [line] = await watchdog.waitFor(is('metrics'));
  const response = await fetch(String(line!.metrics_url));
  return response.text();
}

function once(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'watchdog', '--once', ...args], { cwd: REPO_ROOT, timeout: 60_000 }, (error, stdout) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout });
    });
  });
}

describe('vigil watchdog heals a real server', () => {
  it('restarts a server killed with SIGKILL, and it answers /ready again', async () => {
    const dir = freshDir();
    const svc = service(dir, await freePort());
    services.push(svc);
    svc.start();
    await svc.waitReady();
    const firstPid = svc.currentPid()!;

    // --once against the healthy server: exit 0, nothing done, and it says so.
    const quiet = await once([svc.url, '--state-dir', dir, '--restart-cmd', `sh ${svc.startScript}`]);
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toContain(`vigil watchdog: ${svc.url} is healthy`);

    const watchdog = startWatchdog([svc.url, ...FAST, '--state-dir', dir, '--cooldown', '10m', '--restart-cmd', `sh ${svc.startScript}`, '--metrics-port', '0']);
    watchdogs.push(watchdog);
    await watchdog.waitFor(is('start'));

    process.kill(firstPid, 'SIGKILL');
    const [done] = await watchdog.waitFor(is('action_done', { action: 'restart' }));
    expect(done!.result).toBe('ok');
    await svc.waitReady(10_000);
    expect(svc.currentPid()).not.toBe(firstPid);
    expect(svc.runs()).toHaveLength(2); // the first start, and the watchdog's restart

    const metrics = await metricsOf(watchdog);
    expect(sample(metrics, 'vigil_watchdog_actions_total', { action: 'restart', result: 'ok' })).toBe(1);
    expect(sample(metrics, 'vigil_watchdog_actions_total', { action: 'redeploy', result: 'ok' })).toBe(0);
    // Refused connections, or a check cut off mid-way by the kill.
    const failed = (sample(metrics, 'vigil_watchdog_checks_total', { result: 'unreachable' }) ?? 0) + (sample(metrics, 'vigil_watchdog_checks_total', { result: 'unhealthy' }) ?? 0);
    expect(failed).toBeGreaterThanOrEqual(1);
    expect(sample(metrics, 'vigil_watchdog_last_healthy_timestamp_seconds')).toBeGreaterThan(1.7e9);
    // The command text is never logged (operators put tokens in them).
    expect(watchdog.raw.join('\n')).not.toContain(svc.startScript);
  });

  it('escalates to the redeploy command when the restart command fails', async () => {
    const dir = freshDir();
    const svc = service(dir, await freePort());
    services.push(svc);
    svc.start();
    await svc.waitReady();

    const watchdog = startWatchdog([svc.url, ...FAST, '--state-dir', dir, '--restart-cmd', 'echo restart broke >&2; exit 3', '--redeploy-cmd', `sh ${svc.startScript}`, '--metrics-port', '0']);
    watchdogs.push(watchdog);
    await watchdog.waitFor(is('start'));
    process.kill(svc.currentPid()!, 'SIGKILL');

    const [redeploy] = await watchdog.waitFor(is('action_done', { action: 'redeploy' }));
    expect(redeploy!.result).toBe('ok');
    const restart = watchdog.lines.find(is('action_done', { action: 'restart' }))!;
    expect(restart).toMatchObject({ result: 'failed', exit_code: 3, output_tail: 'restart broke' });
    expect(watchdog.lines.indexOf(restart)).toBeLessThan(watchdog.lines.indexOf(redeploy!));
    await svc.waitReady(10_000);

    const metrics = await metricsOf(watchdog);
    expect(sample(metrics, 'vigil_watchdog_actions_total', { action: 'restart', result: 'failed' })).toBe(1);
    expect(sample(metrics, 'vigil_watchdog_actions_total', { action: 'redeploy', result: 'ok' })).toBe(1);
  });

  it('lets only one of two watchdogs act (lock)', async () => {
    const dir = freshDir();
    const svc = service(dir, await freePort());
    services.push(svc);
    svc.start();
    await svc.waitReady();

    // The restart pauses 2 s before starting Vigil, so the other watchdog's checks land while the
    // lock is held (asserted below: it logs "locked" and does nothing). Afterwards the shared state
    // file's cooldown keeps the second one from acting on a check that failed just before the repair.
    const args = [svc.url, ...FAST, '--log-level', 'debug', '--state-dir', dir, '--cooldown', '10m', '--restart-cmd', `sh ${svc.startScript}`];
    const a = startWatchdog(args, { WATCHDOG_ID: 'a', START_DELAY: '2' });
    const b = startWatchdog(args, { WATCHDOG_ID: 'b', START_DELAY: '2' });
    watchdogs.push(a, b);
    await Promise.all([a.waitFor(is('start')), b.waitFor(is('start'))]);

    process.kill(svc.currentPid()!, 'SIGKILL');
    const both = () => [...a.lines, ...b.lines];
    const deadline = Date.now() + 60_000;
    while (!both().some(is('action_done')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await svc.waitReady(10_000);
    // Three more healthy checks each after the repair, so a late second action would show up.
    const healthy = is('check', { result: 'healthy' });
    await Promise.all([a.waitFor(healthy, a.count(healthy) + 3), b.waitFor(healthy, b.count(healthy) + 3)]);

    expect(both().filter(is('action_start'))).toHaveLength(1);
    expect(svc.runs().filter((id) => id !== 'manual')).toHaveLength(1);
    expect(both().filter(is('skip', { reason: 'locked' })).length).toBeGreaterThanOrEqual(1);
  });
});

describe('vigil watchdog holds back', () => {
  it('acts once, then holds its cooldown while the service stays dead', async () => {
    const dir = freshDir();
    const url = `http://127.0.0.1:${await freePort()}`; // nothing listens: dead from the start
    const watchdog = startWatchdog([url, ...FAST, '--settle', '300ms', '--state-dir', dir, '--cooldown', '1h', '--max-actions', '10', '--restart-cmd', 'true', '--metrics-port', '0']);
    watchdogs.push(watchdog);

    await watchdog.waitFor(is('skip', { reason: 'cooldown' }), 4);
    expect(watchdog.count(is('action_start'))).toBe(1);
    expect(watchdog.count(is('action_done', { action: 'restart', result: 'failed' }))).toBe(1);
    const metrics = await metricsOf(watchdog);
    expect(sample(metrics, 'vigil_watchdog_actions_total', { action: 'restart', result: 'failed' })).toBe(1);
    expect(sample(metrics, 'vigil_watchdog_skipped_total', { reason: 'cooldown' })).toBeGreaterThanOrEqual(4);
  });

  it('gives up loudly after its action budget and alerts once', async () => {
    const dir = freshDir();
    const alertFile = path.join(dir, 'alerts');
    const url = `http://127.0.0.1:${await freePort()}`;
    const watchdog = startWatchdog([
      url, ...FAST, '--settle', '300ms', '--state-dir', dir, '--cooldown', '0', '--max-actions', '2', '--window', '1h',
      '--restart-cmd', 'true', '--alert-cmd', `printf '%s\\n' "$VIGIL_WATCHDOG_ALERT" >> '${alertFile}'`, '--metrics-port', '0',
    ]);
    watchdogs.push(watchdog);

    const gaveUp = await watchdog.waitFor(is('gave_up'), 3);
    expect(gaveUp[0]!.level).toBe('fatal');
    await watchdog.waitFor(is('alert_sent'));
    expect(watchdog.count(is('action_start'))).toBe(2);
    expect(readFileSync(alertFile, 'utf8').trim().split('\n')).toEqual([`vigil watchdog gave up on ${url}: 2 actions within 3600 s`]);
    const metrics = await metricsOf(watchdog);
    expect(sample(metrics, 'vigil_watchdog_gave_up')).toBe(1);
  });

  it('--once keeps its memory in the state file: waits for N failures, then acts', async () => {
    const dir = freshDir();
    const url = `http://127.0.0.1:${await freePort()}`;
    const textfile = path.join(dir, 'vigil_watchdog.prom');
    const args = [url, '--state-dir', dir, '--failures', '2', '--settle', '200ms', '--timeout', '1s', '--restart-cmd', 'true', '--textfile', textfile];
    const first = await once(args);
    expect(first.code).toBe(1);
    expect(first.stdout).toContain(`vigil watchdog: ${url} is UNHEALTHY`);
    expect(first.stdout).toMatch(/"event":"wait"/);
    expect(first.stdout).not.toMatch(/"event":"action_start"/);
    const second = await once(args);
    expect(second.code).toBe(1);
    expect(second.stdout).toMatch(/"event":"action_done","action":"restart","result":"failed"/);
    const stateFile = path.join(dir, `watchdog-${new URL(url).host.replace(':', '_')}.state.json`);
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { consecutive_failures: number; actions: unknown[] };
    expect(state.consecutive_failures).toBe(2);
    expect(state.actions).toHaveLength(1);
    // The textfile's counters add up across runs (each --once run is a new process).
    const metrics = readFileSync(textfile, 'utf8');
    expect(sample(metrics, 'vigil_watchdog_checks_total', { result: 'unreachable' })).toBe(2);
    expect(sample(metrics, 'vigil_watchdog_actions_total', { action: 'restart', result: 'failed' })).toBe(1);

    // A textfile directory that does not exist is logged, not fatal.
    const third = await once([...args.slice(0, -1), path.join(dir, 'missing', 'x.prom')]);
    expect(third.code).toBe(1);
    expect(third.stdout).toMatch(/"event":"textfile_error"/);
  });
});
