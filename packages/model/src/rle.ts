// COCO run-length encoding, byte-compatible with pycocotools and pixelvla/rle.py.
// Runs are taken in column-major order and start with a (possibly empty) run of zeros; the
// compressed string stores each count (from the third on, as a delta to the count two back) in
// 5-bit groups, least significant first, as chr(48 + group), 0x20 = more groups, 0x10 = sign.
//
// Accepts exactly what pixelvla/rle.py accepts: at most H*W + 1 runs, each an integer in [0, H*W],
// summing to exactly H*W; testdata/malformed/ pins the rejections in both languages.

import { RleError } from './errors';

/** A mask side beyond this is not a camera frame we serve; refusing it bounds decode memory. */
export const MAX_SIDE = 16384;
export const MAX_PIXELS = MAX_SIDE * MAX_SIDE;
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

function badCount(i: number, c: number, maxCount: number): never {
  if (c < 0) throw new RleError('RLE counts must be non-negative run lengths');
  throw new RleError(`RLE run ${i} is ${c} pixels long; the mask has only ${maxCount} pixels`);
}

function tooManyRuns(maxRuns: number): never {
  throw new RleError(
    `RLE has more than ${maxRuns} runs; a mask of ${maxRuns - 1} pixels has at most ${maxRuns}`,
  );
}

/**
 * Compressed string -> run lengths, each in [0, maxCount], at most maxRuns of them (the defaults
 * fit any mask within MAX_SIDE; parseRle passes H*W and H*W + 1). Bounding every run keeps each
 * sum below 2^36, exact in a double, so no string is read differently here than in Python.
 */
export function stringToCounts(s: string, maxCount = MAX_PIXELS, maxRuns = MAX_PIXELS + 1): number[] {
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
    if (x < 0 || x > maxCount) badCount(counts.length, x, maxCount);
    counts.push(x);
    if (counts.length > maxRuns) tooManyRuns(maxRuns);
  }
  return counts;
}

/** A client value for an error message: short, and never a second error (BigInt, deep nesting). */
function show(v: unknown): string {
  try {
    const s = JSON.stringify(v) ?? String(v);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return Object.prototype.toString.call(v);
  }
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
    throw new RleError(`RLE must have keys 'size' and 'counts', got ${show(Object.keys(rle).sort())}`);
  }
  const size = rle.size;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((s) => Number.isInteger(s))) {
    throw new RleError(`RLE 'size' must be [H, W] integers, got ${show(size)}`);
  }
  const [h, w] = size as [number, number];
  checkSize(h, w);
  const pixels = h * w;
  const raw = rle.counts;
  let counts: number[];
  if (typeof raw === 'string') counts = stringToCounts(raw, pixels, pixels + 1);
  else if (Array.isArray(raw) && raw.every((c) => Number.isInteger(c))) {
    counts = raw as number[];
    counts.forEach((c, i) => {
      if (!(c >= 0 && c <= pixels)) badCount(i, c, pixels);
      if (i === pixels + 1) tooManyRuns(pixels + 1);
    });
  } else throw new RleError("RLE 'counts' must be a compressed string or a list of integers");
  // Each run is at most H*W, so a partial sum is exact until it passes H*W; beyond 2^53 it rounds
  // but stays above H*W: the comparison is as exact as Python's (only the reported total may round).
  let total = 0;
  for (const c of counts) total += c;
  if (total !== pixels) {
    throw new RleError(
      `RLE counts cover ${total} pixels but size [${h}, ${w}] has ${pixels} (mask size does not match its RLE)`,
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
