// How the Runs page writes times, durations, counts and log lines.

/** A Unix time (seconds) as the reader's local date and time. */
export function fmtTime(unix: number | null | undefined): string {
  if (unix == null) return '—';
  return new Date(unix * 1000).toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

/** Seconds as "4 s", "3 min 05 s", "2 h 07 min". */
export function fmtDuration(s: number | null | undefined): string {
  if (s == null || !Number.isFinite(s) || s < 0) return '—';
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.round(s - m * 60)).padStart(2, '0')} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${String(m - h * 60).padStart(2, '0')} min`;
}

/** A success rate (0..1) as a whole percentage. */
export const pct = (x: number): string => `${Math.round(x * 100)}%`;

/**
 * Log lines as a terminal would show them: a line that redraws itself (tqdm writes each update
 * after a carriage return) shows only its last state. The server collapses them already; lines
 * from an older server still arrive with their returns.
 */
export function logLines(lines: readonly string[]): string[] {
  return lines.map((l) => {
    const parts = l
      .replace(/\r+$/, '')
      .split('\r')
      .filter((p) => p !== '');
    return parts.at(-1) ?? '';
  });
}

/** A metrics value as text: counts stay integers, other numbers get 4 significant digits. */
export function fmtValue(v: unknown): string {
  if (typeof v !== 'number') return String(v ?? '');
  if (Number.isInteger(v)) return v.toLocaleString();
  return Number(v.toPrecision(4)).toString();
}
