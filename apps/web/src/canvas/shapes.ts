// The prompt records the canvas edits. Coordinates are normalised image coordinates in [0,1]
// (x right, y down), the same convention as pixelvla.prompts, so nothing depends on zoom or on
// the frame's pixel size. Mask pixels live in a MaskBitmap beside the record (see mask/raster).
import type { Vec } from './geometry';

export interface PointShape {
  readonly id: string;
  readonly kind: 'point';
  readonly x: number;
  readonly y: number;
  readonly positive: boolean;
}

export interface BoxShape {
  readonly id: string;
  readonly kind: 'box';
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

export interface LineShape {
  readonly id: string;
  readonly kind: 'line';
  readonly points: readonly Vec[];
}

export interface MaskShape {
  readonly id: string;
  readonly kind: 'mask';
  /** Bumped on every committed pixel change so React views know to refresh. */
  readonly rev: number;
}

export type Shape = PointShape | BoxShape | LineShape | MaskShape;
export type ShapeKind = Shape['kind'];

/** The handles a shape exposes for vertex dragging, in normalised coordinates. */
export function handlesOf(s: Shape): Vec[] {
  switch (s.kind) {
    case 'point':
      return [];
    case 'box':
      return [
        { x: s.x0, y: s.y0 },
        { x: s.x1, y: s.y0 },
        { x: s.x1, y: s.y1 },
        { x: s.x0, y: s.y1 },
      ];
    case 'line':
      return [...s.points];
    case 'mask':
      return [];
  }
}

/** The shape with handle `i` moved to `p` (box corners keep the box axis-aligned). */
export function withHandle(s: Shape, i: number, p: Vec): Shape {
  if (s.kind === 'line') return { ...s, points: s.points.map((q, j) => (j === i ? p : q)) };
  if (s.kind === 'box') {
    // Corner i moves; the opposite corner (i + 2) stays put.
    const opp = handlesOf(s)[(i + 2) % 4]!;
    return {
      ...s,
      x0: Math.min(p.x, opp.x),
      y0: Math.min(p.y, opp.y),
      x1: Math.max(p.x, opp.x),
      y1: Math.max(p.y, opp.y),
    };
  }
  return s;
}

/** The shape shifted by (dx, dy) in normalised units, kept inside the image. */
export function translated(s: Shape, dx: number, dy: number): Shape {
  switch (s.kind) {
    case 'point':
      return { ...s, x: clamp01(s.x + dx), y: clamp01(s.y + dy) };
    case 'box': {
      const ddx = clampShift(dx, s.x0, s.x1);
      const ddy = clampShift(dy, s.y0, s.y1);
      return { ...s, x0: s.x0 + ddx, x1: s.x1 + ddx, y0: s.y0 + ddy, y1: s.y1 + ddy };
    }
    case 'line': {
      const xs = s.points.map((p) => p.x);
      const ys = s.points.map((p) => p.y);
      const ddx = clampShift(dx, Math.min(...xs), Math.max(...xs));
      const ddy = clampShift(dy, Math.min(...ys), Math.max(...ys));
      return { ...s, points: s.points.map((p) => ({ x: p.x + ddx, y: p.y + ddy })) };
    }
    case 'mask':
      return s;
  }
}

const clamp01 = (v: number): number => Math.min(1, Math.max(0, v));
const clampShift = (d: number, lo: number, hi: number): number => Math.min(1 - hi, Math.max(-lo, d));

let counter = 0;
/** Short unique ids; deterministic order within a session is all the canvas needs. */
export function newId(kind: ShapeKind): string {
  counter += 1;
  return `${kind}-${Date.now().toString(36)}-${counter.toString(36)}`;
}
