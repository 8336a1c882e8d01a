/**
 * The watchdog: heals a service that its supervisor will not. Docker never restarts an
 * unhealthy container, Fly does not restart Machines failing checks, and systemd's
 * Restart=always only reacts to an exit - a wedged or wrong-answering server stays up.
 *
 * Every interval it runs the smoke test (src/ops/smoke.ts). After `failuresBeforeAction`
 * consecutive failures it takes the lock, re-checks (another watchdog may have healed it
 * meanwhile), and climbs the ladder: restart command, then (still unhealthy after the
 * settle time) redeploy command. Between incidents it keeps a cooldown, and after
 * `maxActions` actions inside `windowMs` it stops acting and alerts: a service that keeps
 * dying needs a human, not a restart loop.
 *
 * State (failure count, action history) lives in a JSON file next to the lock, so that the
 * `--once` mode under a systemd timer or cron keeps the same memory as the long-running one,
 * and two watchdogs sharing the files share one cooldown and one action budget.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { homedir } from 'node:os';
import path from 'node:path';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Logger } from '../observability/logger.js';
import { acquireLock } from './lock.js';
import { runSmoke, type ExpectationsFile, type SmokeReport } from './smoke.js';

export type ActionName = 'restart' | 'redeploy';

export interface WatchdogOptions {
  url: string;
  intervalMs: number;
  restartCmd?: string;
  redeployCmd?: string;
  /** Sent once when the watchdog gives up (action budget spent). */
  alertCmd?: string;
  /** After an action, how long to keep re-checking for health before calling it failed. */
  settleMs: number;
  /** Quiet time after an incident's last action before the next incident may act. */
  cooldownMs: number;
  maxActions: number;
  windowMs: number;
  failuresBeforeAction: number;
  actionTimeoutMs: number;
  lockFile: string;
  stateFile: string;
  lockStaleMs: number;
  smokeTimeoutMs: number;
  expectations?: ExpectationsFile;
  /** node_exporter textfile collector: metrics are written here (atomically) after each cycle. */
  textfile?: string;
}

interface ActionRecord {
  at: number;
  action: ActionName;
  result: 'ok' | 'failed';
}

export interface WatchdogState {
  consecutive_failures: number;
  last_healthy_at?: number;
  actions: ActionRecord[];
  /** When the give-up alert was sent; cleared when the service is healthy again. */
  alerted_at?: number;
  /**
   * Cumulative counter values across runs ("checks/healthy", "actions/restart/ok", "skipped/cooldown"),
   * so `--once` runs under a timer export counters that only go up, as Prometheus expects.
   */
  totals: Record<string, number>;
}

/** Where the lock and state live by default: one pair per watched URL, in a private directory. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  // systemd's StateDirectory= sets STATE_DIRECTORY; otherwise the XDG state home.
  return env.STATE_DIRECTORY?.split(':')[0] ?? path.join(env.XDG_STATE_HOME ?? path.join(homedir(), '.local', 'state'), 'vigil');
}

export function defaultFileStem(url: string): string {
  const { host } = new URL(url);
  return `watchdog-${host.replace(/[^A-Za-z0-9.-]+/g, '_')}`;
}

export class WatchdogMetrics {
  readonly registry = new Registry();
  readonly checks = new Counter({
    name: 'vigil_watchdog_checks_total',
    help: 'Smoke checks run by the watchdog, by result (healthy, unhealthy, unreachable).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly actions = new Counter({
    name: 'vigil_watchdog_actions_total',
    help: 'Healing actions taken, by action (restart, redeploy) and result (ok: healthy after it; failed).',
    labelNames: ['action', 'result'] as const,
    registers: [this.registry],
  });
  readonly skipped = new Counter({
    name: 'vigil_watchdog_skipped_total',
    help: 'Times the watchdog saw an unhealthy service and did not act, by reason (cooldown, limit, locked, no_command, recovered).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly lastHealthy = new Gauge({
    name: 'vigil_watchdog_last_healthy_timestamp_seconds',
    help: 'Unix time of the last healthy smoke check.',
    registers: [this.registry],
  });
  readonly consecutiveFailures = new Gauge({
    name: 'vigil_watchdog_consecutive_failures',
    help: 'Failed smoke checks in a row.',
    registers: [this.registry],
  });
  readonly gaveUp = new Gauge({
    name: 'vigil_watchdog_gave_up',
    help: '1 when the action budget is spent and the watchdog has stopped acting (a human is needed).',
    registers: [this.registry],
  });

  constructor() {
    // Zero every series up front so rate() and absence alerts work from the first scrape.
    for (const result of ['healthy', 'unhealthy', 'unreachable']) this.checks.inc({ result }, 0);
    for (const action of ['restart', 'redeploy']) for (const result of ['ok', 'failed']) this.actions.inc({ action, result }, 0);
    for (const reason of ['cooldown', 'limit', 'locked', 'no_command', 'recovered']) this.skipped.inc({ reason }, 0);
    this.gaveUp.set(0);
  }
}

export function readState(file: string): WatchdogState {
  try {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as Partial<WatchdogState>;
    return {
      consecutive_failures: raw.consecutive_failures ?? 0,
      last_healthy_at: raw.last_healthy_at,
      actions: raw.actions ?? [],
      alerted_at: raw.alerted_at,
      totals: raw.totals ?? {},
    };
  } catch {
    return { consecutive_failures: 0, actions: [], totals: {} };
  }
}

function writeAtomic(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  renameSync(tmp, file);
}

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** The last few hundred characters of output, for the log when the command fails. */
  outputTail: string;
}

/**
 * Runs an operator's shell command. It gets its own process group (so a timeout kills the
 * whole tree) and resolves on exit rather than on stream close: a restart command that
 * starts a server in the background leaves that server holding the pipes.
 */
export function runCommand(command: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-600);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), 5000).unref();
    }, timeoutMs);
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({ code, signal, timedOut, outputTail: output.trim() });
    };
    child.once('exit', finish);
    child.once('error', (error) => {
      output += String(error);
      finish(127, null);
    });
  });
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });

function checkResult(report: SmokeReport): 'healthy' | 'unhealthy' | 'unreachable' {
  return report.healthy ? 'healthy' : report.reachable ? 'unhealthy' : 'unreachable';
}

const failedChecks = (report: SmokeReport) => report.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`);

export class Watchdog {
  readonly metrics = new WatchdogMetrics();
  private metricsServer: Server | undefined;
  /** Counter increments not yet added to the state file's totals (merged under the lock). */
  private pending = new Map<string, number>();

  constructor(
    private readonly options: WatchdogOptions,
    private readonly logger: Logger,
  ) {
    mkdirSync(path.dirname(options.lockFile), { recursive: true, mode: 0o700 });
    mkdirSync(path.dirname(options.stateFile), { recursive: true, mode: 0o700 });
    const state = readState(options.stateFile);
    if (state.last_healthy_at) this.metrics.lastHealthy.set(state.last_healthy_at / 1000);
    // Start from the totals of earlier runs.
    for (const [key, value] of Object.entries(state.totals)) {
      const [kind, a = '', b = ''] = key.split('/');
      if (kind === 'checks') this.metrics.checks.inc({ result: a }, value);
      else if (kind === 'actions') this.metrics.actions.inc({ action: a, result: b }, value);
      else if (kind === 'skipped') this.metrics.skipped.inc({ reason: a }, value);
    }
  }

  private countCheck(result: string): void {
    this.metrics.checks.inc({ result });
    this.bump(`checks/${result}`);
  }

  private countAction(action: ActionName, result: string): void {
    this.metrics.actions.inc({ action, result });
    this.bump(`actions/${action}/${result}`);
  }

  private countSkip(reason: string): void {
    this.metrics.skipped.inc({ reason });
    this.bump(`skipped/${reason}`);
  }

  private bump(key: string): void {
    this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
  }

  /** Adds this process's increments to the state's totals (the caller holds the lock). */
  private mergeTotals(state: WatchdogState): void {
    for (const [key, value] of this.pending) state.totals[key] = (state.totals[key] ?? 0) + value;
    this.pending.clear();
  }

  private smoke(): Promise<SmokeReport> {
    return runSmoke({ url: this.options.url, timeoutMs: this.options.smokeTimeoutMs, expectations: this.options.expectations });
  }

  /** One check, and the actions it calls for. Returns the health at the end of the cycle. */
  async cycle(): Promise<boolean> {
    const report = await this.smoke();
    const result = checkResult(report);
    this.countCheck(result);
    const healthy = result === 'healthy';
    if (!healthy) this.logger.warn({ event: 'check', result, failed: failedChecks(report) }, `service ${result}`);
    else this.logger.debug({ event: 'check', result }, 'service healthy');

    // State is only read and written under the lock, so two watchdogs never interleave updates.
    const taken = acquireLock(this.options.lockFile, { staleMs: this.options.lockStaleMs, purpose: 'watchdog' });
    if (!taken.acquired) {
      if (!healthy) {
        this.countSkip('locked');
        this.logger.warn({ event: 'skip', reason: 'locked', holder: taken.holder?.pid }, `not acting: another watchdog holds the lock (${taken.reason})`);
      }
      return healthy;
    }
    try {
      const state = readState(this.options.stateFile);
      const end = healthy ? this.onHealthy(state) : await this.onUnhealthy(state, report);
      this.mergeTotals(state);
      writeAtomic(this.options.stateFile, `${JSON.stringify(state)}\n`);
      return end;
    } finally {
      taken.lock.release();
      this.writeTextfile();
    }
  }

  private onHealthy(state: WatchdogState): boolean {
    if (state.consecutive_failures > 0 || state.alerted_at) this.logger.info({ event: 'recovered', after_failures: state.consecutive_failures }, 'service healthy again');
    state.consecutive_failures = 0;
    state.last_healthy_at = Date.now();
    state.alerted_at = undefined;
    this.metrics.lastHealthy.set(state.last_healthy_at / 1000);
    this.metrics.consecutiveFailures.set(0);
    this.metrics.gaveUp.set(0);
    return true;
  }

  private async onUnhealthy(state: WatchdogState, report: SmokeReport): Promise<boolean> {
    const o = this.options;
    state.consecutive_failures += 1;
    this.metrics.consecutiveFailures.set(state.consecutive_failures);
    if (state.consecutive_failures < o.failuresBeforeAction) {
      this.logger.info({ event: 'wait', consecutive_failures: state.consecutive_failures, needed: o.failuresBeforeAction }, 'unhealthy; waiting for another failed check before acting');
      return false;
    }
    const now = Date.now();
    state.actions = state.actions.filter((a) => now - a.at < o.windowMs);
    // The budget first: a service that keeps failing must say so loudly, not just "cooling down".
    if (state.actions.length >= o.maxActions) return this.giveUp(state);
    const last = state.actions.at(-1);
    if (last && now - last.at < o.cooldownMs) {
      this.countSkip('cooldown');
      this.logger.warn({ event: 'skip', reason: 'cooldown', last_action: last.action, cooldown_left_ms: o.cooldownMs - (now - last.at) }, 'unhealthy, but the last action was too recent: cooling down');
      return false;
    }
    if (!o.restartCmd && !o.redeployCmd) {
      this.countSkip('no_command');
      this.logger.error({ event: 'skip', reason: 'no_command' }, 'unhealthy and no --restart-cmd or --redeploy-cmd to act with');
      return false;
    }
    // Re-check under the lock: the failure we saw may predate another watchdog's repair.
    const again = await this.smoke();
    if (again.healthy) {
      this.countSkip('recovered');
      this.logger.info({ event: 'skip', reason: 'recovered' }, 'healthy again on re-check; not acting');
      return this.onHealthy(state);
    }
    for (const action of ['restart', 'redeploy'] as const) {
      const command = action === 'restart' ? o.restartCmd : o.redeployCmd;
      if (!command) continue;
      if (state.actions.length >= o.maxActions) return this.giveUp(state);
      if (await this.act(action, command, state)) {
        this.onHealthy(state);
        return true;
      }
    }
    if (state.actions.length >= o.maxActions) return this.giveUp(state);
    this.logger.error({ event: 'still_unhealthy', failed: failedChecks(report) }, 'every action failed; will try again after the cooldown');
    return false;
  }

  /** Runs one action, then re-checks until healthy or the settle time is over. */
  private async act(action: ActionName, command: string, state: WatchdogState): Promise<boolean> {
    const o = this.options;
    // The command is not logged: operators put tokens in such lines more often than they should.
    this.logger.warn({ event: 'action_start', action, actions_in_window: state.actions.length + 1, max_actions: o.maxActions }, `running the ${action} command`);
    const run = await runCommand(command, { VIGIL_URL: o.url, VIGIL_WATCHDOG_ACTION: action }, o.actionTimeoutMs);
    let healthy = false;
    if (run.code === 0) {
      const deadline = Date.now() + o.settleMs;
      do {
        await sleep(Math.min(1000, Math.max(100, o.settleMs / 20)));
        healthy = (await this.smoke()).healthy;
      } while (!healthy && Date.now() < deadline);
    }
    const result = healthy ? 'ok' : 'failed';
    state.actions.push({ at: Date.now(), action, result });
    this.countAction(action, result);
    const why = run.code !== 0 ? (run.timedOut ? `timed out after ${o.actionTimeoutMs} ms` : `exited with ${run.code ?? run.signal}`) : healthy ? 'healthy again' : `still unhealthy ${o.settleMs} ms later`;
    const fields = { event: 'action_done', action, result, exit_code: run.code, ...(run.code !== 0 ? { output_tail: run.outputTail } : {}) };
    if (healthy) this.logger.warn(fields, `${action} worked: ${why}`);
    else this.logger.error(fields, `${action} failed: ${why}`);
    return healthy;
  }

  private giveUp(state: WatchdogState): boolean {
    const o = this.options;
    this.countSkip('limit');
    this.metrics.gaveUp.set(1);
    this.logger.fatal(
      { event: 'gave_up', actions_in_window: state.actions.length, max_actions: o.maxActions, window_ms: o.windowMs },
      `GIVING UP: ${state.actions.length} actions within ${Math.round(o.windowMs / 1000)} s did not keep the service healthy; not acting until a human looks (or the window passes)`,
    );
    if (o.alertCmd && !state.alerted_at) {
      state.alerted_at = Date.now();
      const message = `vigil watchdog gave up on ${o.url}: ${state.actions.length} actions within ${Math.round(o.windowMs / 1000)} s`;
      void runCommand(o.alertCmd, { VIGIL_URL: o.url, VIGIL_WATCHDOG_ALERT: message }, o.actionTimeoutMs).then((r) =>
        this.logger.info({ event: 'alert_sent', exit_code: r.code }, 'alert command ran'),
      );
    }
    return false;
  }

  private writeTextfile(): void {
    if (!this.options.textfile) return;
    const file = this.options.textfile;
    // A missing collector directory must not crash the watchdog: say so and carry on.
    void this.metrics.registry
      .metrics()
      .then((text) => writeAtomic(file, text))
      .catch((error: unknown) => this.logger.error({ err: error, event: 'textfile_error' }, 'cannot write the metrics textfile'));
  }

  async serveMetrics(port: number, host: string): Promise<string> {
    this.metricsServer = createServer((request, response) => {
      if (request.method === 'GET' && request.url?.split('?')[0] === '/metrics') {
        void this.metrics.registry.metrics().then((text) => {
          response.writeHead(200, { 'content-type': this.metrics.registry.contentType });
          response.end(text);
        });
        return;
      }
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end('not found: try /metrics\n');
    });
    await new Promise<void>((resolve, reject) => {
      this.metricsServer!.once('error', reject);
      this.metricsServer!.listen(port, host, resolve);
    });
    const address = this.metricsServer.address();
    return `http://${host}:${typeof address === 'object' && address ? address.port : port}/metrics`;
  }

  /** Checks every interval until `signal` aborts. */
  async loop(signal: AbortSignal): Promise<void> {
    this.logger.info({ event: 'start', url: this.options.url, interval_ms: this.options.intervalMs }, 'watchdog started');
    while (!signal.aborted) {
      try {
        await this.cycle();
      } catch (error) {
        // A bug or a full disk must not kill the watchdog: log it and try again next time.
        this.logger.error({ err: error, event: 'cycle_error' }, 'watchdog cycle failed');
      }
      await sleep(this.options.intervalMs, signal);
    }
    this.logger.info({ event: 'stop' }, 'watchdog stopped');
  }

  async close(): Promise<void> {
    if (this.metricsServer) await new Promise<void>((resolve) => this.metricsServer!.close(() => resolve()));
  }
}
