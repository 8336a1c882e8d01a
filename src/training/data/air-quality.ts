import { readFileSync } from 'node:fs';

/**
 * UCI "Air Quality" (AirQualityUCI.csv): `;` separated, `,` decimal mark, -200 = missing, CRLF,
 * trailing empty fields and empty rows at the end. Rows are hourly and in time order.
 */
export interface AirRow {
  /** ISO local timestamp, e.g. 2004-03-10T18:00 */
  time: string;
  hour: number;
  /** 0 = Monday ... 6 = Sunday */
  dayOfWeek: number;
  /** column name -> value; NaN where the file says -200 or the field is empty */
  values: Record<string, number>;
}

export const AIR_COLUMNS = ['CO(GT)', 'PT08.S1(CO)', 'NMHC(GT)', 'C6H6(GT)', 'PT08.S2(NMHC)', 'NOx(GT)', 'PT08.S3(NOx)', 'NO2(GT)', 'PT08.S4(NO2)', 'PT08.S5(O3)', 'T', 'RH', 'AH'] as const;

export function loadAirQuality(file: string): AirRow[] {
  const lines = readFileSync(file, 'latin1').split(/\r?\n/);
  const header = lines[0]!.split(';');
  if (header[0] !== 'Date' || header[1] !== 'Time') throw new Error(`${file}: expected a header starting with Date;Time`);
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`${file}: no column ${name}`);
    return i;
  };
  const idx = AIR_COLUMNS.map(col);
  const rows: AirRow[] = [];
  for (let li = 1; li < lines.length; li++) {
    const f = lines[li]!.split(';');
    if (!f[0]) continue; // the trailing empty rows
    const [dd, mm, yyyy] = f[0].split('/').map(Number) as [number, number, number];
    const hour = Number(f[1]!.split('.')[0]);
    const date = new Date(Date.UTC(yyyy, mm - 1, dd, hour));
    const values: Record<string, number> = {};
    AIR_COLUMNS.forEach((name, k) => {
      const raw = f[idx[k]!] ?? '';
      const v = raw === '' ? NaN : Number(raw.replace(',', '.'));
      values[name] = v === -200 || !Number.isFinite(v) ? NaN : v;
    });
    rows.push({ time: date.toISOString().slice(0, 16), hour, dayOfWeek: (date.getUTCDay() + 6) % 7, values });
  }
  return rows;
}
