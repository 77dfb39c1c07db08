// COCO run-length encoding (pycocotools-compatible: column-major runs starting with zeros, the
// compressed-string form with its 5-bit chunks and second-order deltas). The studio keeps masks
// row-major; these functions transpose at the boundary.
// TODO(wire-up): switch to @pixelvla/model's RLE once the PROMPTS helper lands its TS side; the
// tests here are the contract both must pass.
import type { MaskBitmap } from '../tools/mask/raster';

export interface Rle {
  /** [height, width], as COCO. */
  readonly size: readonly [number, number];
  readonly counts: string | readonly number[];
}

export class RleError extends Error {
  readonly code = 'invalid_rle';
}

/** Run lengths of the column-major flattening, first run counting zeros. */
export function maskToCounts(m: MaskBitmap): number[] {
  const counts: number[] = [];
  let current = 0;
  let run = 0;
  for (let x = 0; x < m.width; x++) {
    for (let y = 0; y < m.height; y++) {
      const v = m.data[y * m.width + x]! ? 1 : 0;
      if (v !== current) {
        counts.push(run);
        run = 0;
        current = v;
      }
      run++;
    }
  }
  counts.push(run);
  return counts;
}

export function countsToString(counts: readonly number[]): string {
  let s = '';
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i]!;
    if (i > 2) x -= counts[i - 2]!;
    let more = true;
    while (more) {
      let c = x & 0x1f;
      x >>= 5;
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      s += String.fromCharCode(c + 48);
    }
  }
  return s;
}

export function stringToCounts(s: string): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= s.length) throw new RleError('RLE counts string ends in the middle of a number');
      const c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 63) throw new RleError(`RLE counts string has an invalid character at ${p}`);
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && c & 0x10) x |= -1 << (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2]!;
    counts.push(x);
  }
  return counts;
}

export function encodeMask(m: MaskBitmap): Rle & { counts: string } {
  return { size: [m.height, m.width], counts: countsToString(maskToCounts(m)) };
}

export function decodeRle(rle: Rle): MaskBitmap {
  const [h, w] = rle.size;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0 || h * w > 64e6) {
    throw new RleError(`RLE size must be two positive integers, got ${JSON.stringify(rle.size)}`);
  }
  const counts = typeof rle.counts === 'string' ? stringToCounts(rle.counts) : [...rle.counts];
  const data = new Uint8Array(h * w);
  let i = 0;
  let v = 0;
  for (const n of counts) {
    if (!Number.isInteger(n) || n < 0 || i + n > h * w) {
      throw new RleError(`RLE runs do not add up to ${h}x${w} (run ${n} at pixel ${i})`);
    }
    if (v) {
      for (let j = i; j < i + n; j++) {
        const x = Math.floor(j / h);
        const y = j - x * h;
        data[y * w + x] = 1;
      }
    }
    i += n;
    v ^= 1;
  }
  if (i !== h * w) throw new RleError(`RLE runs cover ${i} pixels, expected ${h * w}`);
  return { width: w, height: h, data };
}
