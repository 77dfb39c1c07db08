// The malformed-input corpus (testdata/malformed/, written by `python -m pixelvla.malformed`) fed to
// the TypeScript decoders: every RLE, prompt and mask-prompt entry that JSON can carry must give the
// same typed error codes as in Python (tests/test_decoders_fuzz.py feeds the same files there).
import { describe, expect, it } from 'vitest';
import { PixelVLAError } from './errors';
import { featurize, parsePrompts } from './prompts';
import { decodeRle, parseRle, rleArea } from './rle';
import { readTestdata } from './testdata';

interface Entry {
  name: string;
  target: string;
  why: string;
  encoding: 'json' | 'json_text' | 'msgpack_b64' | 'bytes_b64';
  payload: unknown;
  expect: string[];
  python_only: boolean;
}

const load = (target: string): Entry[] =>
  readTestdata<{ entries: Entry[] }>(`malformed/${target}.json`).entries;

/** The entries JavaScript's JSON can carry, as JSON.parse gives them. */
function jsonEntries(target: string): [string, unknown, Entry][] {
  return load(target)
    .filter((e) => !e.python_only && (e.encoding === 'json' || e.encoding === 'json_text'))
    .map((e) => [e.name, e.encoding === 'json_text' ? JSON.parse(e.payload as string) : e.payload, e]);
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof PixelVLAError) return e.code;
    throw e; // any other exception fails the test
  }
  return 'accepted';
}

describe('malformed RLEs are RleErrors (testdata/malformed/rle.json)', () => {
  const entries = jsonEntries('rle');
  it('covers the int64 wrap-around in both forms', () => {
    const names = entries.map(([n]) => n);
    for (const n of ['int64_wrap_list', 'int64_wrap_string', 'run_2_64_minus_1', 'run_10_30']) {
      expect(names).toContain(n);
    }
    expect(entries.length).toBeGreaterThan(50);
  });
  it.each(entries)('%s', (_name, value, e) => {
    for (const f of [parseRle, decodeRle, rleArea]) expect(codeOf(() => f(value))).toBe('invalid_rle');
    expect(e.expect).toEqual(['invalid_rle']);
  });
});

describe('malformed prompts are typed errors (testdata/malformed/prompt.json, mask_prompt.json)', () => {
  it.each(jsonEntries('prompt'))('%s', (_name, value, e) => {
    expect(e.expect).toContain(codeOf(() => featurize(parsePrompts(value))));
  });
  it.each(jsonEntries('mask_prompt'))('mask %s', (_name, value, e) => {
    expect(e.expect).toContain(codeOf(() => featurize(parsePrompts([value]))));
  });
});

describe('huge declared masks are valid (testdata/malformed/bounded.json)', () => {
  it('validates 16384 x 16384 from its runs without a raster', () => {
    const full = load('bounded').find((e) => e.name === 'full_16384')!.payload;
    expect(parseRle(full).counts).toEqual([0, 16384 * 16384]);
    expect(rleArea(full)).toBe(16384 * 16384);
  });
});

describe('values msgpack or code can hold but JSON cannot', () => {
  it('reports a BigInt or a 100,000-deep list without a second error', () => {
    let deep: unknown = 0.5;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const bad: unknown[] = [
      [{ type: deep }],
      [{ type: 'point', x: 0.5, y: 0.5, positive: 10n }],
      [{ type: 'point', x: 10n, y: 0.5 }],
      [{ type: 'line', points: [[0, 0], deep] }],
      [{ type: 'mask', rle: { size: deep, counts: '' } }],
      [{ type: 'mask', rle: { size: [1n, 1n], counts: [0n, 1n] } }],
    ];
    for (const b of bad) expect(['invalid_prompt', 'invalid_rle']).toContain(codeOf(() => parsePrompts(b)));
  });
});
