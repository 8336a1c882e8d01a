import path from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../observability/logger.js';
import { DEFAULT_TIMEOUT_MS, loadExpectations, parseDuration } from '../ops/smoke.js';
import { defaultFileStem, defaultStateDir, Watchdog, type WatchdogOptions } from '../ops/watchdog.js';

const HELP = `usage: vigil watchdog [URL] [options]

Runs the smoke test (vigil smoke) every interval and heals the service when it fails:
restart command, then (still unhealthy after --settle) redeploy command. Keeps a cooldown
between incidents and stops acting after --max-actions within --window (then logs at fatal
level, sets vigil_watchdog_gave_up 1 and runs --alert-cmd once). A lock file makes sure two
watchdogs never act at once; a crashed holder's lock is broken safely.

  URL                    the server (default http://127.0.0.1:8000; VIGIL_URL)
  --restart-cmd CMD      shell command that restarts the service (e.g. systemctl restart vigil)
  --redeploy-cmd CMD     shell command that redeploys it (e.g. deploy/vm/deploy.sh HOST)
  --alert-cmd CMD        shell command run once when giving up; gets VIGIL_WATCHDOG_ALERT
  --interval DURATION    time between checks (default 30s)
  --failures N           consecutive failed checks before acting (default 2)
  --settle DURATION      after an action, keep re-checking this long for health (default 60s)
  --cooldown DURATION    after an incident's last action, do not act again for this long (default 5m)
  --max-actions N        most actions within --window, then give up (default 3)
  --window DURATION      (default 1h)
  --action-timeout DURATION  kill a command running longer (default 10m)
  --timeout DURATION     per smoke request (default ${DEFAULT_TIMEOUT_MS / 1000}s)
  --expect FILE          expectations file, as for vigil smoke
  --state-dir DIR        lock and state files (default $STATE_DIRECTORY, else ~/.local/state/vigil)
  --lock-file FILE       override the lock file (default STATE_DIR/watchdog-HOST_PORT.lock)
  --lock-stale DURATION  a lock whose holder stopped its heartbeat this long is broken (default 30s)
  --metrics-port N       serve Prometheus metrics on this port (0 = any free port)
  --metrics-host HOST    (default 127.0.0.1)
  --textfile FILE        write metrics to FILE (node_exporter textfile collector) after each check
  --once                 one check (and its actions), then exit: for systemd timers and cron
  --log-level LEVEL      (default info; LOG_LEVEL)

exit codes (--once): 0 healthy at the end, 1 unhealthy; 2 bad usage
`;

export async function run(args: string[]): Promise<number> {
  let options: WatchdogOptions;
  let once: boolean;
  let metricsPort: number | undefined;
  let metricsHost: string;
  let logLevel: string | undefined;
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        'restart-cmd': { type: 'string' },
        'redeploy-cmd': { type: 'string' },
        'alert-cmd': { type: 'string' },
        interval: { type: 'string' },
        failures: { type: 'string' },
        settle: { type: 'string' },
        cooldown: { type: 'string' },
        'max-actions': { type: 'string' },
        window: { type: 'string' },
        'action-timeout': { type: 'string' },
        timeout: { type: 'string' },
        expect: { type: 'string' },
        'state-dir': { type: 'string' },
        'lock-file': { type: 'string' },
        'lock-stale': { type: 'string' },
        'metrics-port': { type: 'string' },
        'metrics-host': { type: 'string' },
        textfile: { type: 'string' },
        once: { type: 'boolean' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (positionals.length > 1) throw new Error('give one URL');
    const url = positionals[0] ?? process.env.VIGIL_URL ?? 'http://127.0.0.1:8000';
    if (!/^https?:\/\//.test(url)) throw new Error(`URL must start with http:// or https://, got "${url}"`);
    const duration = (key: keyof typeof values, fallback: string) => parseDuration(String(values[key] ?? fallback), `--${key}`);
    const count = (key: keyof typeof values, fallback: number, min: number) => {
      const raw = values[key];
      const n = raw === undefined ? fallback : Number(raw);
      if (!Number.isInteger(n) || n < min) throw new Error(`--${key} must be a whole number >= ${min}, got "${String(raw)}"`);
      return n;
    };
    const stateDir = values['state-dir'] ?? defaultStateDir();
    const stem = defaultFileStem(url);
    options = {
      url,
      restartCmd: values['restart-cmd'],
      redeployCmd: values['redeploy-cmd'],
      alertCmd: values['alert-cmd'],
      intervalMs: duration('interval', '30s'),
      failuresBeforeAction: count('failures', 2, 1),
      settleMs: duration('settle', '60s'),
      cooldownMs: duration('cooldown', '5m'),
      maxActions: count('max-actions', 3, 1),
      windowMs: duration('window', '1h'),
      actionTimeoutMs: duration('action-timeout', '10m'),
      smokeTimeoutMs: duration('timeout', `${DEFAULT_TIMEOUT_MS}ms`),
      expectations: values.expect ? loadExpectations(values.expect) : undefined,
      lockFile: values['lock-file'] ?? path.join(stateDir, `${stem}.lock`),
      stateFile: path.join(stateDir, `${stem}.state.json`),
      lockStaleMs: duration('lock-stale', '30s'),
      textfile: values.textfile,
    };
    metricsPort = values['metrics-port'] === undefined ? undefined : count('metrics-port', 0, 0);
    metricsHost = values['metrics-host'] ?? '127.0.0.1';
    once = values.once ?? false;
    logLevel = values['log-level'];
    if (!options.restartCmd && !options.redeployCmd) console.error('vigil watchdog: no --restart-cmd or --redeploy-cmd: it will only report');
  } catch (error) {
    console.error(`vigil watchdog: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }

  const logger = createLogger({ level: logLevel }).child({ component: 'watchdog', url: options.url });
  const watchdog = new Watchdog(options, logger);
  if (once) {
    const healthy = await watchdog.cycle();
    // The verdict in words, also when nothing had to be done (a quiet healthy run looked like a hang).
    console.log(`vigil watchdog: ${options.url} is ${healthy ? 'healthy' : 'UNHEALTHY after this check\'s actions (see the log lines above)'}`);
    return healthy ? 0 : 1;
  }
  if (metricsPort !== undefined) {
    const where = await watchdog.serveMetrics(metricsPort, metricsHost);
    logger.info({ event: 'metrics', metrics_url: where }, 'serving watchdog metrics');
  }
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ event: 'signal', signal }, 'stopping after the current check');
    stop.abort();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  await watchdog.loop(stop.signal);
  await watchdog.close();
  return 0;
}
