// Prompt JSON -> the prompt encoder's input arrays, the same arithmetic as pixelvla.prompts.featurize
// (double-precision steps, one rounding to float32 on store; exact integer area resampling).
// Interim twin: @pixelvla/model's featurize replaces this when the PROMPTS helper lands it; the
// test against packages/model/testdata/featurize.json pins both to the Python vectors.
import type { PromptJson } from '../canvas/io/prompts';
import { decodeRle } from '../canvas/io/rle';
import type { MaskBitmap } from '../canvas/tools/mask/raster';

export const MAX_TOKENS = 16;
export const MAX_MASKS = 2;
export const MASK_SIZE = 64;
export const LINE_POINTS = 8;
const TOKENS = { point: 1, box: 2, line: LINE_POINTS, mask: 1 } as const;

export interface Features {
  coords: Float32Array; // (16, 2)
  types: Int32Array; // (16,)
  index: Int32Array; // (16,)
  mask_slot: Int32Array; // (16,)
  masks: Float32Array; // (2, 64, 64)
  valid: Uint8Array; // (16,) bool
}

export class FeaturizeError extends Error {
  readonly code = 'invalid_prompt';
}

export function countTokens(prompts: readonly PromptJson[]): number {
  return prompts.reduce((n, p) => n + TOKENS[p.type], 0);
}

export function resamplePolyline(
  points: readonly (readonly [number, number])[],
  k = LINE_POINTS,
): [number, number][] {
  const cum = [0];
  for (let i = 1; i < points.length; i++) {
    const dx = points[i]![0] - points[i - 1]![0];
    const dy = points[i]![1] - points[i - 1]![1];
    cum.push(cum[i - 1]! + Math.sqrt(dx * dx + dy * dy));
  }
  const total = cum.at(-1)!;
  const out: [number, number][] = [[points[0]![0], points[0]![1]]];
  let seg = 0;
  for (let i = 1; i < k - 1; i++) {
    const t = (total * i) / (k - 1);
    while (seg < points.length - 2 && cum[seg + 1]! <= t) seg++;
    const length = cum[seg + 1]! - cum[seg]!;
    const u = length > 0 ? (t - cum[seg]!) / length : 0;
    const [ax, ay] = points[seg]!;
    const [bx, by] = points[seg + 1]!;
    out.push([ax + u * (bx - ax), ay + u * (by - ay)]);
  }
  const last = points.at(-1)!;
  out.push([last[0], last[1]]);
  return out;
}

/** For each input cell r: the (output cell, overlap) pairs on an n_in * n_out integer grid. */
function overlaps(nIn: number, nOut: number): [number, number][][] {
  const out: [number, number][][] = [];
  for (let r = 0; r < nIn; r++) {
    const lo = r * nOut;
    const hi = (r + 1) * nOut;
    const cells: [number, number][] = [];
    for (let i = Math.floor(lo / nIn); i < nOut && i * nIn < hi; i++) {
      const o = Math.min(hi, (i + 1) * nIn) - Math.max(lo, i * nIn);
      if (o > 0) cells.push([i, o]);
    }
    out.push(cells);
  }
  return out;
}

/** Fractional coverage of a size x size grid by a binary mask; exact integers until one division. */
export function areaResample(
  m: MaskBitmap,
  size: number,
  out: Float32Array = new Float32Array(size * size),
  offset = 0,
): Float32Array {
  const rows = overlaps(m.height, size);
  const cols = overlaps(m.width, size);
  const covered = new Float64Array(size * size);
  const band = new Float64Array(size);
  for (let r = 0; r < m.height; r++) {
    band.fill(0);
    let any = false;
    const row = r * m.width;
    for (let c = 0; c < m.width; c++) {
      if (!m.data[row + c]) continue;
      any = true;
      for (const [j, o] of cols[c]!) band[j]! += o;
    }
    if (!any) continue;
    for (const [i, o] of rows[r]!) for (let j = 0; j < size; j++) covered[i * size + j]! += o * band[j]!;
  }
  const area = m.height * m.width;
  for (let k = 0; k < size * size; k++) out[offset + k] = covered[k]! / area;
  return out;
}

export function featurize(prompts: readonly PromptJson[]): Features {
  const n = countTokens(prompts);
  if (n > MAX_TOKENS) {
    throw new FeaturizeError(
      `prompts need ${n} tokens but the encoder takes at most ${MAX_TOKENS} (point 1, box 2, line ${LINE_POINTS}, mask 1)`,
    );
  }
  const nMasks = prompts.filter((p) => p.type === 'mask').length;
  if (nMasks > MAX_MASKS) throw new FeaturizeError(`${nMasks} mask prompts; at most ${MAX_MASKS}`);
  const f: Features = {
    coords: new Float32Array(MAX_TOKENS * 2),
    types: new Int32Array(MAX_TOKENS),
    index: new Int32Array(MAX_TOKENS),
    mask_slot: new Int32Array(MAX_TOKENS),
    masks: new Float32Array(MAX_MASKS * MASK_SIZE * MASK_SIZE),
    valid: new Uint8Array(MAX_TOKENS),
  };
  if (prompts.length === 0) {
    f.types[0] = 1;
    f.valid[0] = 1;
    return f;
  }
  let t = 0;
  let slot = 0;
  const put = (x: number, y: number, type: number, index = 0): void => {
    f.coords[2 * t] = x;
    f.coords[2 * t + 1] = y;
    f.types[t] = type;
    f.index[t] = index;
    f.valid[t] = 1;
    t++;
  };
  for (const p of prompts) {
    if (p.type === 'point') put(p.x, p.y, p.positive ? 2 : 3);
    else if (p.type === 'box') {
      put(p.x0, p.y0, 4);
      put(p.x1, p.y1, 5);
    } else if (p.type === 'line') resamplePolyline(p.points).forEach(([x, y], k) => put(x, y, 6, k));
    else {
      areaResample(decodeRle(p.rle), MASK_SIZE, f.masks, slot * MASK_SIZE * MASK_SIZE);
      f.mask_slot[t] = slot++;
      put(0, 0, 7);
    }
  }
  return f;
}
