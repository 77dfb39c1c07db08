// Pure coordinate maths for the canvas. Three spaces:
//   screen      CSS pixels relative to the canvas container (pointer events live here)
//   image       frame pixels, (0,0) = top-left corner of the top-left pixel
//   normalised  image / (width, height), in [0,1], x right, y down (what the model and store use)
// The viewport maps image -> screen as screen = image * scale + offset.

export interface Vec {
  readonly x: number;
  readonly y: number;
}

export interface Viewport {
  readonly scale: number;
  readonly x: number;
  readonly y: number;
}

export interface Size {
  readonly width: number;
  readonly height: number;
}

export const IDENTITY: Viewport = { scale: 1, x: 0, y: 0 };
export const MIN_SCALE = 0.05;
export const MAX_SCALE = 64;

export function screenToImage(v: Viewport, p: Vec): Vec {
  return { x: (p.x - v.x) / v.scale, y: (p.y - v.y) / v.scale };
}

export function imageToScreen(v: Viewport, p: Vec): Vec {
  return { x: p.x * v.scale + v.x, y: p.y * v.scale + v.y };
}

export function imageToNorm(size: Size, p: Vec): Vec {
  return { x: p.x / size.width, y: p.y / size.height };
}

export function normToImage(size: Size, p: Vec): Vec {
  return { x: p.x * size.width, y: p.y * size.height };
}

export function screenToNorm(v: Viewport, size: Size, p: Vec): Vec {
  return imageToNorm(size, screenToImage(v, p));
}

export function normToScreen(v: Viewport, size: Size, p: Vec): Vec {
  return imageToScreen(v, normToImage(size, p));
}

export const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

export function clampNorm(p: Vec): Vec {
  return { x: clamp(p.x, 0, 1), y: clamp(p.y, 0, 1) };
}

/** Zoom by `factor` keeping the image point under `anchor` (screen) fixed. */
export function zoomAt(v: Viewport, anchor: Vec, factor: number): Viewport {
  const scale = clamp(v.scale * factor, MIN_SCALE, MAX_SCALE);
  const k = scale / v.scale;
  return { scale, x: anchor.x - (anchor.x - v.x) * k, y: anchor.y - (anchor.y - v.y) * k };
}

export function panBy(v: Viewport, dx: number, dy: number): Viewport {
  return { ...v, x: v.x + dx, y: v.y + dy };
}

/** The viewport that shows the whole image centred in the container with a margin. */
export function fit(image: Size, container: Size, margin = 16): Viewport {
  const w = Math.max(1, container.width - 2 * margin);
  const h = Math.max(1, container.height - 2 * margin);
  const scale = clamp(Math.min(w / image.width, h / image.height), MIN_SCALE, MAX_SCALE);
  return {
    scale,
    x: (container.width - image.width * scale) / 2,
    y: (container.height - image.height * scale) / 2,
  };
}

export const dist = (a: Vec, b: Vec): number => Math.hypot(a.x - b.x, a.y - b.y);

/** Distance from p to the segment ab. */
export function distToSegment(p: Vec, a: Vec, b: Vec): number {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : clamp(((p.x - a.x) * dx + (p.y - a.y) * dy) / len2, 0, 1);
  return Math.hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}

/** An axis-aligned rectangle with x0 <= x1 and y0 <= y1 (a box prompt, the marquee). */
export interface Corners {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

/** Axis-aligned box from two corners in any order. */
export function normaliseBox(a: Vec, b: Vec): Corners {
  return { x0: Math.min(a.x, b.x), y0: Math.min(a.y, b.y), x1: Math.max(a.x, b.x), y1: Math.max(a.y, b.y) };
}

export const insideBox = (p: Vec, r: Corners): boolean =>
  p.x >= r.x0 && p.x <= r.x1 && p.y >= r.y0 && p.y <= r.y1;

/** The part of a normalised shift `d` that keeps the extent [lo, hi] inside [0, 1]: moves never push a prompt off the frame. */
export const shiftWithin = (d: number, lo: number, hi: number): number => Math.min(1 - hi, Math.max(-lo, d));
