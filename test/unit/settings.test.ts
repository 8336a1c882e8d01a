import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Type } from 'typebox';
import { describe, expect, it } from 'vitest';
import { parseServeArgs, serveHelp } from '../../src/config/flags.js';
import { ConfigError, DEFAULT_SERVE_CONFIG, fromEnvironment, fromFile, resolveServeConfig } from '../../src/config/serve-config.js';
import { SETTINGS_TABLE_HEADER, settingsTableRows } from '../../src/config/settings-table.js';
import { COMMAND_FLAGS, ENVIRONMENT_ONLY, PACKAGE_ROOT, SETTINGS, type Setting } from '../../src/config/settings.js';
import type { TSchema } from 'typebox';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

const declared = Object.entries(SETTINGS) as [string, Setting<TSchema>][];

/** A table row's cells, trimmed, so spacing an editor changes does not count. */
const cells = (line: string): string[] =>
  line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim());

function readmeSettingsTable(): string[] {
  const lines = readFileSync(path.join(PACKAGE_ROOT, 'README.md'), 'utf8').split('\n');
  const start = lines.findIndex((line) => line.trim() === SETTINGS_TABLE_HEADER[0]);
  expect(start, `README.md has no table headed "${SETTINGS_TABLE_HEADER[0]}"`).toBeGreaterThanOrEqual(0);
  const rows: string[] = [];
  for (let i = start + 2; i < lines.length && lines[i]!.trim().startsWith('|'); i++) rows.push(lines[i]!);
  return rows;
}

describe('settings declaration', () => {
  it("matches the README's settings table row for row", () => {
    const expected = settingsTableRows();
    const actual = readmeSettingsTable();
    // The whole expected table in the message, ready to paste into the README.
    const hint = `README.md's settings table disagrees with src/config/settings.ts; it should read:\n${[...SETTINGS_TABLE_HEADER, ...expected].join('\n')}`;
    expect(actual.map(cells), hint).toEqual(expected.map(cells));
  });

  it('gives every setting a help text and an environment variable, and every flag and variable once', () => {
    const flags = new Set<string>();
    const variables = new Set<string>();
    const add = (set: Set<string>, name: string) => {
      expect(set.has(name), `declared twice: ${name}`).toBe(false);
      set.add(name);
    };
    for (const [key, setting] of declared) {
      expect(setting.help, key).toMatch(/\S/);
      expect(setting.env, `${key} has no environment variable`).toMatch(/^[A-Z][A-Z0-9_]*$/);
      add(variables, setting.env!);
      if (setting.flag) add(flags, setting.flag);
      for (const extra of setting.extraFlags ?? []) add(flags, extra.flag);
    }
    for (const command of COMMAND_FLAGS) add(flags, command.flag);
    for (const variable of ENVIRONMENT_ONLY) add(variables, variable.env);
  });

  it('applies a default exactly when the schema says the setting may be absent otherwise', () => {
    for (const [key, setting] of declared) {
      const optional = Type.IsOptional(setting.schema);
      expect(optional, `${key}: a setting with a default is required in the schema, one without is optional`).toBe(setting.default === undefined);
      if (setting.default === undefined) {
        expect(setting.defaultText, `${key}: say who decides the default`).toBeDefined();
        expect(DEFAULT_SERVE_CONFIG).not.toHaveProperty(key);
      } else expect(DEFAULT_SERVE_CONFIG).toHaveProperty(key, setting.default);
    }
    // The defaults alone are a valid configuration.
    expect(resolveServeConfig()).toEqual(DEFAULT_SERVE_CONFIG);
  });

  it('lists every flag and environment variable in --help', () => {
    const help = serveHelp().replace(/\s+/g, " ");
    for (const [key, setting] of declared) {
      if (setting.flag) expect(help).toContain(`--${setting.flag}`);
      expect(help).toContain(setting.env!);
      expect(help).toContain(`config: ${key}`);
      for (const extra of setting.extraFlags ?? []) expect(help).toContain(`--${extra.flag}`);
    }
    for (const variable of ENVIRONMENT_ONLY) expect(help).toContain(variable.env);
  });

  it('reads each setting from its flag and its environment variable alike', () => {
    // One text per kind that every setting of that kind accepts.
    const sample: Record<Setting['kind'], string> = {
      string: 'info',
      integer: '2048',
      number: '2.5',
      boolean: 'true',
      'on-off': 'off',
      'model-list': 'a=/m/a,/m/b',
      'string-list': 'a.example,b.example',
      routing: '{"spam": {"champion": "1"}}',
    };
    for (const [key, setting] of declared) {
      const text = sample[setting.kind];
      const fromEnv = fromEnvironment({ [setting.env!]: text }) as Record<string, unknown>;
      expect(fromEnv, `${setting.env}=${text}`).toHaveProperty(key);
      if (!setting.flag) continue;
      const args =
        setting.kind === 'boolean'
          ? [`--${setting.flag}`]
          : setting.kind === 'model-list'
            ? ['--model', 'a=/m/a', '--model', '/m/b']
            : setting.kind === 'string-list'
              ? [`--${setting.flag}`, 'a.example', `--${setting.flag}`, 'b.example']
              : [`--${setting.flag}`, text];
      const fromFlags = parseServeArgs(args).flags as Record<string, unknown>;
      expect(fromFlags[key], `--${setting.flag}`).toEqual(fromEnv[key]);
    }
  });

  it('reads the settings that had no environment variable before the declaration', () => {
    expect(fromEnvironment({ VIGIL_BODY_LIMIT: '4096', VIGIL_BUCKETING: 'off', VIGIL_DRAIN_DELAY_MS: '250', VIGIL_MAX_BATCH_INPUTS: '16' })).toEqual({
      bodyLimit: 4096,
      bucketing: false,
      drainDelayMs: 250,
      maxBatchInputs: 16,
    });
    expect(() => fromEnvironment({ VIGIL_BUCKETING: 'sometimes' })).toThrow(new ConfigError('VIGIL_BUCKETING must be on or off, got "sometimes"'));
    expect(() => fromEnvironment({ VIGIL_MAX_DELAY_MS: 'soon' })).toThrow(new ConfigError('VIGIL_MAX_DELAY_MS must be a number, got "soon"'));
  });

  it('keeps an empty VIGIL_MODELS_DIR (serve no repository) but ignores other empty variables', () => {
    expect(fromEnvironment({ VIGIL_MODELS_DIR: '', PORT: '', HOST: '' })).toEqual({ modelsDir: '' });
    expect(parseServeArgs(['--no-embedded']).flags).toEqual({ modelsDir: '' });
  });

  it('refuses a config file key it does not know, naming it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-settings-'));
    const file = path.join(dir, 'vigil.json');
    writeFileSync(file, JSON.stringify({ port: 9000, maxBatch: 4 }));
    expect(() => fromFile(file)).toThrow(/unknown setting "maxBatch" \(settings: host, port, /);
    writeFileSync(file, JSON.stringify({ port: 9000, sessions: 2 }));
    expect(resolveServeConfig(fromFile(file))).toMatchObject({ port: 9000, sessions: 2 });
  });

  it('refuses an unknown flag and a log level pino does not have', () => {
    expect(() => parseServeArgs(['--sesions', '2'])).toThrow(ConfigError);
    expect(() => resolveServeConfig({ logLevel: 'loud' as never })).toThrow(/invalid setting \/logLevel/);
  });
});
