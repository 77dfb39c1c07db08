// Prompts as JSON, in the contract's form (pixelvla.prompts): normalised coordinates,
// {"type":"point","x","y","positive"}, {"type":"box","x0","y0","x1","y1"},
// {"type":"line","points":[[x,y],...]}, {"type":"mask","rle":{"size":[H,W],"counts":"..."}}.
import type { Editor } from '../editor';
import type { MaskBitmap } from '../tools/mask/raster';
import { type Shape, newId } from '../shapes';
import { decodeRle, encodeMask } from './rle';

export type PromptJson =
  | { type: 'point'; x: number; y: number; positive: boolean }
  | { type: 'box'; x0: number; y0: number; x1: number; y1: number }
  | { type: 'line'; points: [number, number][] }
  | { type: 'mask'; rle: { size: [number, number]; counts: string } };

export class PromptJsonError extends Error {
  readonly code = 'invalid_prompt';
}

export function exportPrompts(editor: Editor): PromptJson[] {
  return editor.shapes.flatMap((s): PromptJson[] => {
    switch (s.kind) {
      case 'point':
        return [{ type: 'point', x: s.x, y: s.y, positive: s.positive }];
      case 'box':
        return [{ type: 'box', x0: s.x0, y0: s.y0, x1: s.x1, y1: s.y1 }];
      case 'line':
        return [{ type: 'line', points: s.points.map((p) => [p.x, p.y]) }];
      case 'mask': {
        const m = editor.getMask(s.id);
        if (!m) return [];
        const rle = encodeMask(m);
        return [{ type: 'mask', rle: { size: [rle.size[0], rle.size[1]], counts: rle.counts } }];
      }
    }
  });
}

const num = (v: unknown, what: string): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) {
    throw new PromptJsonError(`${what} must be a number in [0, 1], got ${JSON.stringify(v)}`);
  }
  return v;
};

/** Parses prompt JSON into shapes (+ bitmaps for masks). Throws PromptJsonError on bad input. */
export function parsePrompts(json: unknown): { shape: Shape; bitmap?: MaskBitmap }[] {
  if (!Array.isArray(json)) throw new PromptJsonError('prompts must be a JSON array');
  return json.map((raw: unknown, i) => {
    if (typeof raw !== 'object' || raw === null) throw new PromptJsonError(`prompt ${i} is not an object`);
    const o = raw as Record<string, unknown>;
    switch (o.type) {
      case 'point':
        return {
          shape: {
            id: newId('point'),
            kind: 'point',
            x: num(o.x, `prompt ${i} x`),
            y: num(o.y, `prompt ${i} y`),
            positive: o.positive !== false,
          },
        };
      case 'box': {
        const [x0, y0, x1, y1] = (['x0', 'y0', 'x1', 'y1'] as const).map((k) =>
          num(o[k], `prompt ${i} ${k}`),
        ) as [number, number, number, number];
        if (x1 < x0 || y1 < y0) throw new PromptJsonError(`prompt ${i}: box corners are reversed`);
        return { shape: { id: newId('box'), kind: 'box', x0, y0, x1, y1 } };
      }
      case 'line': {
        if (!Array.isArray(o.points) || o.points.length < 2)
          throw new PromptJsonError(`prompt ${i}: a line needs at least 2 points`);
        const points = o.points.map((p: unknown, j) => {
          if (!Array.isArray(p) || p.length !== 2)
            throw new PromptJsonError(`prompt ${i} point ${j} must be [x, y]`);
          return { x: num(p[0], `prompt ${i} point ${j} x`), y: num(p[1], `prompt ${i} point ${j} y`) };
        });
        return { shape: { id: newId('line'), kind: 'line', points } };
      }
      case 'mask': {
        if (typeof o.rle !== 'object' || o.rle === null) {
          throw new PromptJsonError(`prompt ${i}: a mask needs rle {size, counts}`);
        }
        return { shape: { id: newId('mask'), kind: 'mask', rev: 0 }, bitmap: decodeRle(o.rle) };
      }
      default:
        throw new PromptJsonError(`prompt ${i}: unknown type ${JSON.stringify(o.type)}`);
    }
  });
}

/** Replaces nothing: adds the parsed prompts as one undo entry. */
export function importPrompts(editor: Editor, json: unknown): number {
  const parsed = parsePrompts(json);
  const { width, height } = editor.state.imageSize;
  editor.mark('import');
  for (const { shape, bitmap } of parsed) {
    if (bitmap && (bitmap.width !== width || bitmap.height !== height)) {
      editor.history.bail();
      throw new PromptJsonError(`mask is ${bitmap.width}x${bitmap.height}, the frame is ${width}x${height}`);
    }
    editor.createShape(shape, bitmap);
  }
  editor.squash();
  return parsed.length;
}
