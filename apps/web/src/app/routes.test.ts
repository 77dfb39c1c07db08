import { describe, expect, it } from 'vitest';
import { pageFromHash } from './routes';

describe('pageFromHash', () => {
  it('maps known hashes to pages', () => {
    expect(pageFromHash('#/teleop')).toBe('teleop');
    expect(pageFromHash('#runs')).toBe('runs');
    expect(pageFromHash('#/runs/abc?x=1')).toBe('runs');
  });
  it('falls back to the prompt page for empty or unknown hashes', () => {
    expect(pageFromHash('')).toBe('prompt');
    expect(pageFromHash('#/nope')).toBe('prompt');
  });
});
