import type { TSchema } from 'typebox';
import { COMMAND_FLAGS, defaultLabel, ENVIRONMENT_ONLY, SETTINGS, type Setting } from './settings.js';

/** The README's settings table, derived from SETTINGS (test/unit/settings.test.ts compares them). */

export const SETTINGS_TABLE_HEADER = ['| flag | env | config key | default | meaning |', '| --- | --- | --- | --- | --- |'] as const;

const code = (text: string | undefined): string => (text ? `\`${text}\`` : '');
const cell = (text: string): string => text.replaceAll('|', '\\|');
const row = (cells: string[]): string => `| ${cells.map(cell).join(' | ')} |`;
const flagCell = (flag: string | undefined, value?: string): string => (flag ? code(`--${flag}${value ? ` ${value}` : ''}`) : '');

export function settingsTableRows(): string[] {
  const rows: string[] = [];
  for (const [key, setting] of Object.entries(SETTINGS) as [string, Setting<TSchema>][]) {
    const fallback = defaultLabel(setting);
    rows.push(row([flagCell(setting.flag, setting.value), code(setting.env), code(key), fallback, setting.help]));
    for (const extra of setting.extraFlags ?? []) rows.push(row([flagCell(extra.flag, extra.value), '', code(key), '', extra.help]));
  }
  for (const command of COMMAND_FLAGS.filter((flag) => flag.flag !== 'help')) rows.push(row([flagCell(command.flag, command.value), '', '', '', command.help]));
  for (const variable of ENVIRONMENT_ONLY) rows.push(row(['', code(variable.env), '', variable.default ?? '', variable.help]));
  return rows;
}
