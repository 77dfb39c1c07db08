import { describe, expect, it } from 'vitest';
import { fmtDuration, fmtTime, fmtValue, logLines, pct } from './format';

describe('runs page formatting', () => {
  it('log lines show a redrawn progress bar once, at its latest state', () => {
    expect(logLines(['start', '\r 1/3\r 2/3\r 3/3\r', 'x\r', ''])).toEqual(['start', ' 3/3', 'x', '']);
  });
  it('durations, times, rates and counts read as a person writes them', () => {
    expect(fmtDuration(4.25)).toBe('4.3 s');
    expect(fmtDuration(185)).toBe('3 min 05 s');
    expect(fmtDuration(7620)).toBe('2 h 07 min');
    expect(fmtDuration(null)).toBe('—');
    expect(fmtTime(1_796_181_412)).toMatch(/2026/);
    expect(fmtTime(null)).toBe('—');
    expect(pct(0.6667)).toBe('67%');
    expect(fmtValue(20)).toBe('20');
    expect(fmtValue(0.123456)).toBe('0.1235');
  });
});
