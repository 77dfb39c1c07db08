// COCO run-length encoding, byte-compatible with pycocotools and pixelvla/rle.py.
// Runs are taken in column-major order and start with a (possibly empty) run of zeros; the
// compressed string stores each count (from the third on, as a delta to the count two back) in
// 5-bit groups, least significant first, as chr(48 + group), 0x20 = more groups, 0x10 = sign.

import { RleError } from './errors';

/** A mask side beyond this is not a camera frame we serve; refusing it bounds decode memory. */
export const MAX_SIDE = 16384;
/** 7 groups carry any count of a mask within MAX_SIDE^2 pixels and stay exact in a double. */
const MAX_GROUPS = 7;

export interface Rle {
  /** [height, width] */
  size: [number, number];
  /** The compressed string, or uncompressed run lengths. */
  counts: string | number[];
}

export interface CompressedRle extends Rle {
  counts: string;
}

/** A binary mask in row-major order: data[y * width + x] is 0 or 1. */
export interface BinaryMask {
  height: number;
  width: number;
  data: Uint8Array;
}

export function countsToString(counts: readonly number[]): string {
  let out = '';
  for (let i = 0; i < counts.length; i++) {
    // Deltas of counts within MAX_SIDE^2 fit int32, so JS's 32-bit >> is C's arithmetic shift.
    let x = (counts[i] as number) - (i > 2 ? (counts[i - 2] as number) : 0);
    let more = true;
    while (more) {
      let group = x & 0x1f;
      x >>= 5;
      more = group & 0x10 ? x !== -1 : x !== 0;
      if (more) group |= 0x20;
      out += String.fromCharCode(group + 48);
    }
  }
  return out;
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
      if (c < 0 || c > 63) {
        throw new RleError(
          `RLE counts string has an invalid character ${JSON.stringify(s[p])} at offset ${p}`,
        );
      }
      // Multiplication, not <<: shifts wrap at 32 bits in JavaScript.
      x += (c & 0x1f) * 2 ** (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (k > MAX_GROUPS) throw new RleError('RLE counts string encodes a number that is too large');
      if (!more && c & 0x10) x -= 2 ** (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2] as number;
    counts.push(x);
  }
  return counts;
}

function checkSize(h: number, w: number): void {
  if (h < 0 || w < 0 || h > MAX_SIDE || w > MAX_SIDE) {
    throw new RleError(`RLE size must be within [0, ${MAX_SIDE}] per side, got [${h}, ${w}]`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validate an RLE (shape, counts, coverage of exactly H*W pixels); return size and run lengths. */
export function parseRle(rle: unknown): { height: number; width: number; counts: number[] } {
  if (!isRecord(rle)) throw new RleError("RLE must be an object with 'size' and 'counts'");
  if (!('size' in rle) || !('counts' in rle)) {
    throw new RleError(
      `RLE must have keys 'size' and 'counts', got ${JSON.stringify(Object.keys(rle).sort())}`,
    );
  }
  const size = rle.size;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((s) => Number.isInteger(s))) {
    throw new RleError(`RLE 'size' must be [H, W] integers, got ${JSON.stringify(size)}`);
  }
  const [h, w] = size as [number, number];
  checkSize(h, w);
  const raw = rle.counts;
  let counts: number[];
  if (typeof raw === 'string') counts = stringToCounts(raw);
  else if (Array.isArray(raw) && raw.every((c) => Number.isInteger(c))) counts = raw as number[];
  else throw new RleError("RLE 'counts' must be a compressed string or a list of integers");
  let total = 0;
  for (const c of counts) {
    if (c < 0) throw new RleError('RLE counts must be non-negative run lengths');
    total += c;
  }
  if (total !== h * w) {
    throw new RleError(
      `RLE counts cover ${total} pixels but size [${h}, ${w}] has ${h * w} (mask size does not match its RLE)`,
    );
  }
  return { height: h, width: w, counts };
}

export function encodeRle(mask: BinaryMask): CompressedRle {
  const { height: h, width: w, data } = mask;
  if (!Number.isInteger(h) || !Number.isInteger(w))
    throw new RleError('mask height and width must be integers');
  checkSize(h, w);
  if (!(data instanceof Uint8Array) || data.length !== h * w) {
    throw new RleError(`mask data must be a Uint8Array of ${h * w} pixels`);
  }
  const runs: number[] = [];
  let current = 0; // runs start with zeros
  let run = 0;
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      const v = data[y * w + x] ? 1 : 0;
      if (v !== current) {
        runs.push(run);
        run = 0;
        current = v;
      }
      run++;
    }
  }
  runs.push(run);
  return { size: [h, w], counts: countsToString(runs) };
}

export function decodeRle(rle: unknown): BinaryMask {
  const { height: h, width: w, counts } = parseRle(rle);
  const data = new Uint8Array(h * w);
  let pos = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] as number;
    if (i % 2 === 1) {
      for (let j = pos; j < pos + n; j++) data[(j % h) * w + Math.floor(j / h)] = 1;
    }
    pos += n;
  }
  return { height: h, width: w, data };
}

/** Foreground pixel count; validates like decodeRle without rasterising. */
export function rleArea(rle: unknown): number {
  const { counts } = parseRle(rle);
  let area = 0;
  for (let i = 1; i < counts.length; i += 2) area += counts[i] as number;
  return area;
}
