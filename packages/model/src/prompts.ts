// Visual prompts and their featurisation: the TypeScript twin of pixelvla/prompts.py.
//
// Coordinates are normalised image coordinates in [0, 1], x right, y down; (0, 0) is the top-left
// corner of the top-left pixel, so the centre of pixel (px, py) in a W x H frame is
// ((px + 0.5) / W, (py + 0.5) / H) (see pixelCentre). Every floating-point step below is the same
// IEEE double operation, in the same order, as in Python, followed by one rounding to float32,
// so the arrays match Python's bit for bit (testdata/featurize.json proves it).

import { PromptError } from './errors';
import { decodeRle, rleArea, type BinaryMask, type Rle } from './rle';

export const MAX_TOKENS = 16;
export const MAX_MASKS = 2;
export const MASK_SIZE = 64;
export const LINE_POINTS = 8;
export const MAX_LINE_INPUT_POINTS = 1024;
export const MIN_LINE_LENGTH = 1e-4;

export const TokenType = {
  pad: 0,
  none: 1,
  pointPositive: 2,
  pointNegative: 3,
  boxTopLeft: 4,
  boxBottomRight: 5,
  line: 6,
  mask: 7,
} as const;
export const NUM_TYPES = 8;

export interface PointPrompt {
  type: 'point';
  x: number;
  y: number;
  /** Defaults to true when parsed from JSON without it. */
  positive: boolean;
}
export interface BoxPrompt {
  type: 'box';
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}
export interface LinePrompt {
  type: 'line';
  points: [number, number][];
}
export interface MaskPrompt {
  type: 'mask';
  rle: Rle;
}
export type Prompt = PointPrompt | BoxPrompt | LinePrompt | MaskPrompt;

export const TOKENS_PER_PROMPT: Readonly<Record<Prompt['type'], number>> = {
  point: 1,
  box: 2,
  line: LINE_POINTS,
  mask: 1,
};

/** The prompt encoder's input arrays (no batch dimension), laid out as in Python's FEATURE_SPEC. */
export interface PromptFeatures {
  /** (16, 2) x, y */
  coords: Float32Array;
  /** (16,) TokenType */
  types: Int32Array;
  /** (16,) line sample index 0..7, else 0 */
  index: Int32Array;
  /** (16,) which mask raster feeds a mask token, else 0 */
  mask_slot: Int32Array;
  /** (2, 64, 64) area coverage */
  masks: Float32Array;
  /** (16,) 0/1 */
  valid: Uint8Array;
}

export const FEATURE_LENGTHS: Readonly<Record<keyof PromptFeatures, number>> = {
  coords: MAX_TOKENS * 2,
  types: MAX_TOKENS,
  index: MAX_TOKENS,
  mask_slot: MAX_TOKENS,
  masks: MAX_MASKS * MASK_SIZE * MASK_SIZE,
  valid: MAX_TOKENS,
};

/** Normalised coordinates of the centre of pixel (px, py) in a width x height frame. */
export function pixelCentre(px: number, py: number, width: number, height: number): [number, number] {
  return [(px + 0.5) / width, (py + 0.5) / height];
}

// ---------------------------------------------------------------- validation

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
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

function coord(value: unknown, name: string): number {
  if (typeof value !== 'number') {
    throw new PromptError(`${name} must be a number, got ${value === null ? 'null' : typeof value}`);
  }
  if (!Number.isFinite(value)) throw new PromptError(`${name} must be finite, got ${value}`);
  if (value < 0 || value > 1) {
    throw new PromptError(`${name} must be a normalised coordinate in [0, 1], got ${value}`);
  }
  return value;
}

function expectKeys(d: Record<string, unknown>, required: string[], optional: string[], kind: string): void {
  const keys = Object.keys(d);
  const missing = required.filter((k) => !(k in d));
  const extra = keys.filter((k) => k !== 'type' && !required.includes(k) && !optional.includes(k));
  if (missing.length) throw new PromptError(`${kind} prompt is missing ${JSON.stringify(missing.sort())}`);
  if (extra.length) throw new PromptError(`${kind} prompt has unknown keys ${JSON.stringify(extra.sort())}`);
}

function cumulativeLengths(points: readonly (readonly [number, number])[]): number[] {
  // sqrt(dx*dx + dy*dy), not Math.hypot: hypot's rounding is engine-specific.
  const acc = [0];
  for (let i = 1; i < points.length; i++) {
    const [ax, ay] = points[i - 1] as readonly [number, number];
    const [bx, by] = points[i] as readonly [number, number];
    const dx = bx - ax;
    const dy = by - ay;
    acc.push((acc[i - 1] as number) + Math.sqrt(dx * dx + dy * dy));
  }
  return acc;
}

/** Validate one prompt (from JSON or built in code) and return a normalised copy. */
export function parsePrompt(d: unknown): Prompt {
  if (!isRecord(d)) {
    throw new PromptError(`a prompt must be a JSON object, got ${Array.isArray(d) ? 'array' : typeof d}`);
  }
  switch (d.type) {
    case 'point': {
      expectKeys(d, ['x', 'y'], ['positive'], 'point');
      const positive = 'positive' in d ? d.positive : true; // null is an error, as in Python
      if (typeof positive !== 'boolean') {
        throw new PromptError(`point 'positive' must be a boolean, got ${show(positive)}`);
      }
      return { type: 'point', x: coord(d.x, 'point x'), y: coord(d.y, 'point y'), positive };
    }
    case 'box': {
      expectKeys(d, ['x0', 'y0', 'x1', 'y1'], [], 'box');
      const [x0, y0, x1, y1] = (['x0', 'y0', 'x1', 'y1'] as const).map((k) => coord(d[k], `box ${k}`)) as [
        number,
        number,
        number,
        number,
      ];
      if (!(x1 > x0 && y1 > y0)) {
        throw new PromptError(
          `box must have x1 > x0 and y1 > y0 (non-zero area, top-left first), got (${x0}, ${y0}, ${x1}, ${y1})`,
        );
      }
      return { type: 'box', x0, y0, x1, y1 };
    }
    case 'line': {
      expectKeys(d, ['points'], [], 'line');
      const pts = d.points;
      if (!Array.isArray(pts)) throw new PromptError("line 'points' must be a list of [x, y] pairs");
      if (pts.length < 2) throw new PromptError(`line needs at least 2 points, got ${pts.length}`);
      if (pts.length > MAX_LINE_INPUT_POINTS) {
        throw new PromptError(`line has ${pts.length} points; at most ${MAX_LINE_INPUT_POINTS} are accepted`);
      }
      const points = pts.map((p: unknown, i): [number, number] => {
        if (!Array.isArray(p) || p.length !== 2) {
          throw new PromptError(`line point ${i} must be an [x, y] pair, got ${show(p)}`);
        }
        return [coord(p[0], `line point ${i} x`), coord(p[1], `line point ${i} y`)];
      });
      if ((cumulativeLengths(points).at(-1) as number) < MIN_LINE_LENGTH) {
        throw new PromptError(
          `line has zero length (total length below ${MIN_LINE_LENGTH} in normalised units)`,
        );
      }
      return { type: 'line', points };
    }
    case 'mask': {
      expectKeys(d, ['rle'], [], 'mask');
      const rle = d.rle;
      if (rleArea(rle) === 0) {
        // rleArea validated the structure (RleError); an all-background mask points at nothing.
        const [h, w] = (rle as Rle).size;
        throw new PromptError(`mask prompt is empty (no foreground pixels in a ${h}x${w} mask)`);
      }
      const r = rle as Rle;
      return {
        type: 'mask',
        rle: {
          size: [r.size[0], r.size[1]],
          counts: typeof r.counts === 'string' ? r.counts : [...r.counts],
        },
      };
    }
    default:
      throw new PromptError(
        `unknown prompt type ${show(d.type ?? null)}; expected one of point, box, line, mask`,
      );
  }
}

/** Parse the JSON prompt list (as the studio stores and the server accepts it). */
export function parsePrompts(items: unknown): Prompt[] {
  if (!Array.isArray(items)) throw new PromptError('prompts must be a JSON list of prompt objects');
  return items.map(parsePrompt);
}

// ---------------------------------------------------------------- geometry

/** K points equally spaced by arc length from the first point to the last (doubles). */
export function resamplePolyline(
  points: readonly (readonly [number, number])[],
  k: number = LINE_POINTS,
): [number, number][] {
  const cum = cumulativeLengths(points);
  const total = cum.at(-1) as number;
  const first = points[0] as readonly [number, number];
  const last = points.at(-1) as readonly [number, number];
  const out: [number, number][] = [[first[0], first[1]]];
  let seg = 0;
  for (let i = 1; i < k - 1; i++) {
    const t = (total * i) / (k - 1);
    while (seg < points.length - 2 && (cum[seg + 1] as number) <= t) seg++;
    const length = (cum[seg + 1] as number) - (cum[seg] as number);
    const u = length > 0 ? (t - (cum[seg] as number)) / length : 0;
    const [ax, ay] = points[seg] as readonly [number, number];
    const [bx, by] = points[seg + 1] as readonly [number, number];
    out.push([ax + u * (bx - ax), ay + u * (by - ay)]);
  }
  out.push([last[0], last[1]]);
  return out;
}

/**
 * Fractional coverage of each cell of a size x size grid by a binary mask, written into `out`
 * (row-major) at `offset`. Exact: on a common grid of (H * size) x (W * size) units each input
 * pixel and output cell has integer extent, so covered areas are integers (exact in doubles up
 * to 2^53); one division by the cell area H * W, then one rounding to float32 on store.
 */
export function areaResample(mask: BinaryMask, size: number, out?: Float32Array, offset = 0): Float32Array {
  const { height: h, width: w, data } = mask;
  if (h === 0 || w === 0) throw new PromptError(`mask has an empty size ${h}x${w}`);
  const target = out ?? new Float32Array(size * size);
  // rowsCovered[i * w + c]: sum over input rows r of overlap(i, r) * mask[r][c].
  const rowsCovered = new Float64Array(size * w);
  for (let i = 0; i < size; i++) {
    const lo = i * h;
    const hi = (i + 1) * h;
    for (let r = Math.floor(lo / size); r < h && r * size < hi; r++) {
      const ov = Math.min((r + 1) * size, hi) - Math.max(r * size, lo);
      if (ov <= 0) continue;
      const row = r * w;
      for (let c = 0; c < w; c++) {
        if (data[row + c]) rowsCovered[i * w + c] = (rowsCovered[i * w + c] as number) + ov;
      }
    }
  }
  const cellArea = h * w;
  for (let j = 0; j < size; j++) {
    const lo = j * w;
    const hi = (j + 1) * w;
    const c0 = Math.floor(lo / size);
    for (let i = 0; i < size; i++) {
      let covered = 0;
      for (let c = c0; c < w && c * size < hi; c++) {
        const ov = Math.min((c + 1) * size, hi) - Math.max(c * size, lo);
        if (ov > 0) covered += (rowsCovered[i * w + c] as number) * ov;
      }
      target[offset + i * size + j] = covered / cellArea;
    }
  }
  return target;
}

// ---------------------------------------------------------------- featurisation

export function countTokens(prompts: readonly Prompt[]): number {
  return prompts.reduce((n, p) => n + TOKENS_PER_PROMPT[p.type], 0);
}

/** Prompts -> the encoder's input arrays. Validates every prompt again (objects built in code too). */
export function featurize(prompts: readonly Prompt[]): PromptFeatures {
  if (!Array.isArray(prompts)) throw new PromptError('prompts must be a list of prompt objects');
  const ps = prompts.map((p) => parsePrompt(p));
  const nTokens = countTokens(ps);
  if (nTokens > MAX_TOKENS) {
    throw new PromptError(
      `prompts need ${nTokens} tokens but the encoder takes at most ${MAX_TOKENS} ` +
        `(max_tokens; point 1, box 2, line ${LINE_POINTS}, mask 1)`,
    );
  }
  const nMasks = ps.filter((p) => p.type === 'mask').length;
  if (nMasks > MAX_MASKS)
    throw new PromptError(`${nMasks} mask prompts given; at most ${MAX_MASKS} (max_masks)`);

  const f: PromptFeatures = {
    coords: new Float32Array(FEATURE_LENGTHS.coords),
    types: new Int32Array(MAX_TOKENS),
    index: new Int32Array(MAX_TOKENS),
    mask_slot: new Int32Array(MAX_TOKENS),
    masks: new Float32Array(FEATURE_LENGTHS.masks),
    valid: new Uint8Array(MAX_TOKENS),
  };
  if (ps.length === 0) {
    f.types[0] = TokenType.none;
    f.valid[0] = 1;
    return f;
  }
  let t = 0;
  let slot = 0;
  const put = (x: number, y: number, type: number): void => {
    f.coords[2 * t] = x; // Float32Array stores round to nearest float32, like numpy's cast
    f.coords[2 * t + 1] = y;
    f.types[t] = type;
    f.valid[t] = 1;
  };
  for (const p of ps) {
    switch (p.type) {
      case 'point':
        put(p.x, p.y, p.positive ? TokenType.pointPositive : TokenType.pointNegative);
        t++;
        break;
      case 'box':
        put(p.x0, p.y0, TokenType.boxTopLeft);
        t++;
        put(p.x1, p.y1, TokenType.boxBottomRight);
        t++;
        break;
      case 'line':
        resamplePolyline(p.points).forEach(([x, y], k) => {
          put(x, y, TokenType.line);
          f.index[t] = k;
          t++;
        });
        break;
      case 'mask':
        areaResample(decodeRle(p.rle), MASK_SIZE, f.masks, slot * MASK_SIZE * MASK_SIZE);
        put(0, 0, TokenType.mask);
        f.mask_slot[t] = slot;
        slot++;
        t++;
        break;
    }
  }
  return f;
}

/** Throw PromptError unless `f` has the exact array types, lengths and value ranges. */
export function checkFeatures(f: unknown): asserts f is PromptFeatures {
  if (!isRecord(f)) throw new PromptError('features must be an object of typed arrays');
  const expect: Record<keyof PromptFeatures, new (n: number) => ArrayBufferView> = {
    coords: Float32Array,
    types: Int32Array,
    index: Int32Array,
    mask_slot: Int32Array,
    masks: Float32Array,
    valid: Uint8Array,
  };
  for (const [name, ctor] of Object.entries(expect) as [keyof PromptFeatures, typeof Float32Array][]) {
    const a = f[name];
    if (!(a instanceof ctor)) throw new PromptError(`feature '${name}' must be a ${ctor.name}`);
    if (a.length !== FEATURE_LENGTHS[name]) {
      throw new PromptError(`feature '${name}' must have length ${FEATURE_LENGTHS[name]}, got ${a.length}`);
    }
  }
  const g = f as unknown as PromptFeatures;
  for (const name of ['coords', 'masks'] as const) {
    if (!g[name].every(Number.isFinite)) throw new PromptError(`feature '${name}' contains NaN or infinity`);
  }
  const inRange = (a: Int32Array, hi: number): boolean => a.every((v) => v >= 0 && v < hi);
  if (!inRange(g.types, NUM_TYPES)) throw new PromptError(`feature 'types' must be in [0, ${NUM_TYPES})`);
  if (!inRange(g.index, LINE_POINTS)) throw new PromptError(`feature 'index' must be in [0, ${LINE_POINTS})`);
  if (!inRange(g.mask_slot, MAX_MASKS))
    throw new PromptError(`feature 'mask_slot' must be in [0, ${MAX_MASKS})`);
  if (!g.valid.every((v) => v === 0 || v === 1)) throw new PromptError("feature 'valid' must hold 0 or 1");
}
