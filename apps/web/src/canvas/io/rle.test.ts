import { describe, expect, it } from 'vitest';
import { emptyMask, fillPolygon, paintDisc } from '../tools/mask/raster';
import { countsToString, stringToCounts } from '@pixelvla/model';
import { decodeRle, encodeMask, RleError } from './rle';

describe('COCO RLE', () => {
  it('matches pycocotools on a reference mask (vector from pixelvla.rle)', () => {
    const m = emptyMask(9, 7);
    for (let y = 1; y < 5; y++) for (let x = 2; x < 7; x++) m.data[y * 9 + x] = 1;
    m.data[6 * 9 + 8] = 1;
    m.data[0] = 1;
    expect(encodeMask(m)).toEqual({ size: [7, 9], counts: '01>3E0000000<M' });
  });

  it('round-trips brush and polygon masks through the compressed string and through int counts', () => {
    const m = emptyMask(160, 90);
    paintDisc(m, { x: 40, y: 30 }, 17, 1);
    fillPolygon(
      m,
      [
        { x: 90, y: 5 },
        { x: 150, y: 40 },
        { x: 100, y: 85 },
      ],
      1,
    );
    paintDisc(m, { x: 110, y: 45 }, 6, 0);
    const rle = encodeMask(m);
    expect(Buffer.compare(decodeRle(rle).data, m.data)).toBe(0);
    const counts = stringToCounts(rle.counts);
    expect(Buffer.compare(decodeRle({ size: rle.size, counts }).data, m.data)).toBe(0);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(160 * 90);
  });

  it('encodes large runs (negative deltas, multi-chunk numbers) losslessly', () => {
    const counts = [5, 1_000_000, 3, 17, 999_000, 0, 70_000];
    expect(stringToCounts(countsToString(counts))).toEqual(counts);
  });

  it('rejects counts that do not cover the mask and garbage strings', () => {
    expect(() => decodeRle({ size: [4, 4], counts: [3, 2] })).toThrow(RleError);
    expect(() => decodeRle({ size: [4, 4], counts: '\u0001' })).toThrow(RleError);
  });
});
