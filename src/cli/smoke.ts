import { parseArgs } from 'node:util';
import { DEFAULT_TIMEOUT_MS, exitCodeFor, formatReport, loadExpectations, parseDuration, runSmoke, type ExpectationsFile } from '../ops/smoke.js';

const HELP = `usage: vigil smoke [URL] [options]

Checks a running Vigil from the outside: /alive, /ready, /metrics, and one real prediction per model
against an expected answer (sentiment, spam, or the cases of --expect); models whose right
answer is unknown are checked for shape only and marked [shape-only].

  URL                   the server (default http://127.0.0.1:8000; VIGIL_URL)
  --expect FILE         JSON {"models": {"NAME": [{"input": {...}, "label": "..."}]}}; a named
                        model's cases replace the built-in ones ("anyOf", "value": {min,max},
                        "minScore" also work)
  --timeout DURATION    per request (default ${DEFAULT_TIMEOUT_MS / 1000}s); 500ms, 10s, 2m
  --wait DURATION       poll until /ready says 200 (or this much time passed) before judging
  --json                print the report as JSON

exit codes: 0 healthy, 1 unhealthy (a check failed), 2 unreachable or bad usage
`;

export async function run(args: string[]): Promise<number> {
  let url: string;
  let timeoutMs: number;
  let waitMs: number | undefined;
  let expectations: ExpectationsFile | undefined;
  let json: boolean;
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        expect: { type: 'string' },
        timeout: { type: 'string' },
        wait: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (positionals.length > 1) throw new Error('give one URL');
    url = positionals[0] ?? process.env.VIGIL_URL ?? 'http://127.0.0.1:8000';
    if (!/^https?:\/\//.test(url)) throw new Error(`URL must start with http:// or https://, got "${url}"`);
    timeoutMs = values.timeout ? parseDuration(values.timeout, '--timeout') : DEFAULT_TIMEOUT_MS;
    waitMs = values.wait ? parseDuration(values.wait, '--wait') : undefined;
    expectations = values.expect ? loadExpectations(values.expect) : undefined;
    json = values.json ?? false;
  } catch (error) {
    console.error(`vigil smoke: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  const report = await runSmoke({ url, timeoutMs, waitReadyMs: waitMs, expectations });
  console.log(json ? JSON.stringify(report, null, 2) : formatReport(report));
  return exitCodeFor(report);
}
