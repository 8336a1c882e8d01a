/** Number formatting shared by the tabs, so every tab says "12.3 ms" the same way. */

export function percent(ratio: number, digits = 1): string {
  return `${(ratio * 100).toFixed(digits)}%`;
}

/**
 * A probability as a percentage with one decimal, except that 0.99996 reads "> 99.9%" and
 * 0.00004 "< 0.1%": rounding either to 100% or 0% would claim a certainty the model did not give.
 */
export function probability(p: number): string {
  if (p > 0.999 && p < 1) return '> 99.9%';
  if (p > 0 && p < 0.0005) return '< 0.1%';
  return `${(p * 100).toFixed(1)}%`;
}

export function milliseconds(ms: number): string {
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value >= 100 || unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** Short, readable numbers for chart axes and values. */
export function compact(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const abs = Math.abs(n);
  if (abs === 0) return '0';
  if (Number.isInteger(n) && abs < 1e4) return String(n); // counts stay counts: "3", not "3.00"
  if (abs >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (abs >= 1e4) return `${(n / 1e3).toFixed(0)}k`;
  if (abs >= 100) return n.toFixed(0);
  if (abs >= 10) return n.toFixed(1);
  if (abs >= 0.01) return n.toFixed(2);
  return n.toPrecision(2);
}

export function clock(epochMs: number): string {
  return new Date(epochMs).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}
