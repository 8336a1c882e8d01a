import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, parseRoutingFlag, parseSettingText, type RoutingFlag, type ServeConfig } from './serve-config.js';
import { COMMAND_FLAGS, defaultLabel, ENVIRONMENT_ONLY, SETTINGS, type Setting, type SettingKey } from './settings.js';
import type { TSchema } from 'typebox';

/** `vigil serve`'s command line and --help, both derived from SETTINGS. */

const declared = Object.entries(SETTINGS) as [SettingKey, Setting<TSchema>][];
const ROUTING_FLAG_NAMES: readonly RoutingFlag[] = ['champion', 'canary', 'shadow'];

type Options = NonNullable<ParseArgsConfig['options']>;

function parseArgsOptions(): Options {
  const options: Options = {};
  for (const [, setting] of declared) {
    if (setting.flag) {
      const boolean = setting.kind === 'boolean';
      options[setting.flag] = { type: boolean ? 'boolean' : 'string', multiple: setting.kind === 'model-list' || setting.kind === 'string-list' || undefined, short: setting.short };
    }
    for (const extra of setting.extraFlags ?? []) {
      options[extra.flag] = { type: extra.value ? 'string' : 'boolean', multiple: setting.kind === 'routing' || undefined };
    }
  }
  for (const command of COMMAND_FLAGS) options[command.flag] = { type: command.value ? 'string' : 'boolean', short: command.short };
  for (const option of Object.values(options)) if (option.short === undefined) delete option.short;
  for (const option of Object.values(options)) if (option.multiple === undefined) delete option.multiple;
  return options;
}

export interface ServeCommandLine {
  /** Settings given as flags (absent ones undefined). */
  flags: Partial<ServeConfig>;
  configFile?: string;
  help: boolean;
}

/** Reads `vigil serve`'s arguments; a bad one throws a ConfigError naming the flag. */
export function parseServeArgs(args: string[]): ServeCommandLine {
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({ args, options: parseArgsOptions(), strict: true, allowPositionals: false }));
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const flags: Record<string, unknown> = {};
  for (const [key, setting] of declared) {
    if (!setting.flag) continue;
    const raw = values[setting.flag];
    if (raw === undefined) continue;
    if (setting.kind === 'boolean') flags[key] = raw === true;
    else if (setting.kind === 'model-list' || setting.kind === 'string-list') flags[key] = (raw as string[]).flatMap((item) => parseSettingText(setting, item, `--${setting.flag}`) as unknown[]);
    else flags[key] = parseSettingText(setting, raw as string, `--${setting.flag}`);
  }
  if (values['no-embedded']) flags.modelsDir = '';
  const routing = routingFromFlags(values);
  if (routing) flags.routing = routing;
  return { flags: flags as Partial<ServeConfig>, configFile: values.config as string | undefined, help: values.help === true };
}

/** The --champion/--canary/--shadow flags as a config `routing` section, merged per model. */
function routingFromFlags(values: Record<string, unknown>): Record<string, Record<string, unknown>> | undefined {
  const routing: Record<string, Record<string, unknown>> = {};
  for (const flag of ROUTING_FLAG_NAMES) {
    for (const raw of (values[flag] as string[] | undefined) ?? []) {
      const { model, entry } = parseRoutingFlag(flag, raw);
      routing[model] = { ...routing[model], ...entry };
    }
  }
  return Object.keys(routing).length > 0 ? routing : undefined;
}

const HELP_WIDTH = 100;
const FLAG_COLUMN = 28;

function wrap(text: string, indent: number, width = HELP_WIDTH): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

function helpEntry(flag: string, text: string): string {
  const lines = wrap(text, FLAG_COLUMN);
  const head = `  ${flag}`;
  const pad = ' '.repeat(FLAG_COLUMN);
  if (head.length + 1 >= FLAG_COLUMN) return [head, ...lines.map((line) => pad + line)].join('\n');
  return [head.padEnd(FLAG_COLUMN) + lines[0], ...lines.slice(1).map((line) => pad + line)].join('\n');
}

function flagLabel(flag: string, value: string | undefined, short?: string): string {
  return `${short ? `-${short}, ` : ''}--${flag}${value ? ` ${value}` : ''}`;
}

/** `vigil serve --help`. */
export function serveHelp(): string {
  const entries: string[] = [];
  const configOnly: string[] = [];
  for (const [key, setting] of declared) {
    const notes = [defaultLabel(setting) && `default: ${defaultLabel(setting)}`, setting.env, `config: ${key}`].filter(Boolean).join('; ');
    const text = `${setting.help} (${notes})`;
    if (setting.flag) entries.push(helpEntry(flagLabel(setting.flag, setting.value, setting.short), text));
    else configOnly.push(helpEntry(setting.env ?? key, text));
    for (const extra of setting.extraFlags ?? []) entries.push(helpEntry(flagLabel(extra.flag, extra.value), extra.help));
  }
  for (const command of COMMAND_FLAGS) entries.push(helpEntry(flagLabel(command.flag, command.value, command.short), command.help));
  const environment = ENVIRONMENT_ONLY.map((variable) => helpEntry(variable.env, variable.default ? `${variable.help} (default: ${variable.default})` : variable.help));
  return [
    'usage: vigil serve [options]',
    '',
    'Serves the embedded models (models/) and any --model folders over HTTP, with the web UI at /.',
    'Settings come from the defaults, a --config file, the environment and flags, each winning over the one before.',
    '',
    'options:',
    ...entries,
    '',
    'settings without a flag (environment and config file):',
    ...configOnly,
    '',
    'environment:',
    ...environment,
    '',
  ].join('\n');
}
