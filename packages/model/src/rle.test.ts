import { describe, expect, it } from 'vitest';
import { PixelVLAError, RleError } from './errors';
import { countsToString, decodeRle, encodeRle, rleArea, stringToCounts, type BinaryMask } from './rle';
import { bytesOf, readTestdata, type StoredArray } from './testdata';

interface RleCase {
  name: string;
  size: [number, number];
  counts: string;
  counts_list: number[];
  area: number;
  mask: StoredArray | null;
}
// Deep equality on 60k-element arrays is slow in vitest; compare bytes directly.
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

const cases = readTestdata<{ cases: RleCase[] }>('rle.json').cases;

describe('COCO RLE against the Python vectors', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(stringToCounts(c.counts)).toEqual(c.counts_list);
    expect(countsToString(c.counts_list)).toBe(c.counts);
    expect(rleArea({ size: c.size, counts: c.counts })).toBe(c.area);
    const decoded = decodeRle({ size: c.size, counts: c.counts });
    expect([decoded.height, decoded.width]).toEqual(c.size);
    if (c.mask) expect(sameBytes(decoded.data, bytesOf(c.mask))).toBe(true);
    expect(encodeRle(decoded).counts).toBe(c.counts);
    expect(sameBytes(decodeRle({ size: c.size, counts: c.counts_list }).data, decoded.data)).toBe(true);
  });
  it('covers the edge cases', () => {
    const names = cases.map((c) => c.name).join(' ');
    for (const n of ['empty', 'full', 'zero_size', 'odd']) expect(names).toContain(n);
  });
});

describe('COCO RLE', () => {
  it('is column-major and starts with zeros', () => {
    const m: BinaryMask = { height: 2, width: 3, data: Uint8Array.from([1, 0, 0, 1, 0, 0]) };
    expect(stringToCounts(encodeRle(m).counts)).toEqual([0, 2, 4]);
    expect(encodeRle({ height: 3, width: 4, data: new Uint8Array(12).fill(1) }).counts).toBe('0<');
  });

  it('round-trips large and negative deltas', () => {
    const counts = [0, 5, 100000, 3, 7, 250000, 1, 1];
    expect(stringToCounts(countsToString(counts))).toEqual(counts);
  });

  it.each([
    [{ size: [3, 4], counts: '0;' }, 'does not match'],
    [{ size: [3, 4], counts: [5, 5] }, 'does not match'],
    [{ size: [3, 4], counts: [-1, 13] }, 'non-negative'],
    [{ size: [3], counts: '0<' }, 'size'],
    [{ size: [3.5, 4], counts: '0<' }, 'size'],
    [{ size: [3, 4] }, 'keys'],
    [{ size: [3, 4], counts: '0\x7f' }, 'invalid character'],
    [{ size: [3, 4], counts: '0l' }, 'middle of a number'],
    [{ size: [3, 4], counts: '0' + 'o'.repeat(8) + '0' }, 'too large'],
    [{ size: [3, 4], counts: 12 }, 'counts'],
    [{ size: [100000, 4], counts: '0' }, 'within'],
    ['0<', 'object'],
  ])('rejects %j', (bad, fragment) => {
    let err: unknown;
    try {
      decodeRle(bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RleError);
    expect(err).toBeInstanceOf(PixelVLAError);
    expect((err as RleError).code).toBe('invalid_rle');
    expect((err as RleError).message).toContain(fragment);
  });

  it('rejects masks whose data does not match the size', () => {
    expect(() => encodeRle({ height: 2, width: 2, data: new Uint8Array(3) })).toThrow(RleError);
  });
});
