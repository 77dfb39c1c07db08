// Binary mask bitmaps at the frame's pixel resolution, one byte per pixel, row-major.
// All painting is pure arithmetic on the bytes so the tools can be tested without a DOM;
// the mask kind's layer copies dirty rectangles into an offscreen canvas (kinds/mask/MaskLayer).
import type { Vec } from './geometry';

export interface MaskBitmap {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

export function emptyMask(width: number, height: number): MaskBitmap {
  return { width, height, data: new Uint8Array(width * height) };
}

export function unionRect(a: Rect | null, b: Rect | null): Rect | null {
  if (!a) return b;
  if (!b) return a;
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return { x, y, w: Math.max(a.x + a.w, b.x + b.w) - x, h: Math.max(a.y + a.h, b.y + b.h) - y };
}

function clipRect(m: MaskBitmap, x0: number, y0: number, x1: number, y1: number): Rect | null {
  const ax = Math.max(0, Math.floor(x0));
  const ay = Math.max(0, Math.floor(y0));
  const bx = Math.min(m.width, Math.ceil(x1));
  const by = Math.min(m.height, Math.ceil(y1));
  return bx > ax && by > ay ? { x: ax, y: ay, w: bx - ax, h: by - ay } : null;
}

/** Sets (value=1) or clears (value=0) every pixel whose centre lies within radius r of c (image px). */
export function paintDisc(m: MaskBitmap, c: Vec, r: number, value: 0 | 1): Rect | null {
  const rect = clipRect(m, c.x - r, c.y - r, c.x + r, c.y + r);
  if (!rect) return null;
  const r2 = r * r;
  for (let y = rect.y; y < rect.y + rect.h; y++) {
    const dy = y + 0.5 - c.y;
    const row = y * m.width;
    for (let x = rect.x; x < rect.x + rect.w; x++) {
      const dx = x + 0.5 - c.x;
      if (dx * dx + dy * dy <= r2) m.data[row + x] = value;
    }
  }
  return rect;
}

/** A round-capped stroke from a to b: discs stamped at a spacing of a quarter radius. */
export function paintSegment(m: MaskBitmap, a: Vec, b: Vec, r: number, value: 0 | 1): Rect | null {
  const len = Math.hypot(b.x - a.x, b.y - a.y);
  const steps = Math.max(1, Math.ceil(len / Math.max(0.5, r / 4)));
  let dirty: Rect | null = null;
  for (let i = 0; i <= steps; i++) {
    const t = i / steps;
    dirty = unionRect(dirty, paintDisc(m, { x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t }, r, value));
  }
  return dirty;
}

/** Even-odd scanline fill of a polygon given in image px (pixel centres inside are set). */
export function fillPolygon(m: MaskBitmap, poly: readonly Vec[], value: 0 | 1): Rect | null {
  if (poly.length < 3) return null;
  const ys = poly.map((p) => p.y);
  const xs = poly.map((p) => p.x);
  const rect = clipRect(m, Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys));
  if (!rect) return null;
  const crossings: number[] = [];
  for (let y = rect.y; y < rect.y + rect.h; y++) {
    const cy = y + 0.5;
    crossings.length = 0;
    for (let i = 0; i < poly.length; i++) {
      const p = poly[i]!;
      const q = poly[(i + 1) % poly.length]!;
      if (p.y <= cy !== q.y <= cy) crossings.push(p.x + ((cy - p.y) / (q.y - p.y)) * (q.x - p.x));
    }
    crossings.sort((u, v) => u - v);
    const row = y * m.width;
    for (let k = 0; k + 1 < crossings.length; k += 2) {
      const from = Math.max(rect.x, Math.ceil(crossings[k]! - 0.5));
      const to = Math.min(rect.x + rect.w - 1, Math.floor(crossings[k + 1]! - 0.5));
      for (let x = from; x <= to; x++) m.data[row + x] = value;
    }
  }
  return rect;
}

export function copyRect(m: MaskBitmap, r: Rect): Uint8Array {
  const out = new Uint8Array(r.w * r.h);
  for (let y = 0; y < r.h; y++) {
    const start = (r.y + y) * m.width + r.x;
    out.set(m.data.subarray(start, start + r.w), y * r.w);
  }
  return out;
}

export function pasteRect(m: MaskBitmap, r: Rect, pixels: Uint8Array): void {
  for (let y = 0; y < r.h; y++)
    m.data.set(pixels.subarray(y * r.w, (y + 1) * r.w), (r.y + y) * m.width + r.x);
}

export function maskArea(m: MaskBitmap): number {
  let n = 0;
  for (let i = 0; i < m.data.length; i++) n += m.data[i]!;
  return n;
}

export function maskAt(m: MaskBitmap, p: Vec): boolean {
  const x = Math.floor(p.x);
  const y = Math.floor(p.y);
  return x >= 0 && y >= 0 && x < m.width && y < m.height && m.data[y * m.width + x] === 1;
}
