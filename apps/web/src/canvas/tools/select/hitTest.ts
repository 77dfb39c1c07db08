// What is under the pointer, in screen-pixel tolerances so picking feels the same at any zoom.
import { type Vec, dist, distToSegment, normToScreen } from '../../geometry';
import { type Shape, handlesOf } from '../../shapes';
import { maskAt } from '../mask/raster';
import type { Editor } from '../../editor';

export const HANDLE_PX = 7;
export const POINT_PX = 9;
export const EDGE_PX = 6;

export interface Hit {
  readonly id: string;
  /** The handle index when a vertex / corner handle was hit. */
  readonly handle?: number;
}

export function hitTest(editor: Editor, screen: Vec): Hit | null {
  const { viewport, imageSize, selected } = editor.state;
  const toScreen = (p: Vec): Vec => normToScreen(viewport, imageSize, p);
  for (const id of [...selected].reverse()) {
    const s = editor.getShape(id);
    if (!s) continue;
    const i = handlesOf(s).findIndex((h) => dist(toScreen(h), screen) <= HANDLE_PX);
    if (i >= 0) return { id, handle: i };
  }
  const shapes = editor.shapes;
  // Vector prompts win over masks under them: they are small and hard to hit otherwise.
  for (const s of [...shapes].reverse())
    if (s.kind !== 'mask' && hitsShape(s, screen, toScreen)) return { id: s.id };
  const image = { x: (screen.x - viewport.x) / viewport.scale, y: (screen.y - viewport.y) / viewport.scale };
  for (const s of [...shapes].reverse()) {
    const m = s.kind === 'mask' ? editor.getMask(s.id) : undefined;
    if (m && maskAt(m, image)) return { id: s.id };
  }
  return null;
}

function hitsShape(s: Shape, p: Vec, toScreen: (q: Vec) => Vec): boolean {
  switch (s.kind) {
    case 'point':
      return dist(toScreen(s), p) <= POINT_PX;
    case 'box': {
      const a = toScreen({ x: s.x0, y: s.y0 });
      const b = toScreen({ x: s.x1, y: s.y1 });
      return p.x >= a.x - EDGE_PX && p.x <= b.x + EDGE_PX && p.y >= a.y - EDGE_PX && p.y <= b.y + EDGE_PX;
    }
    case 'line': {
      const pts = s.points.map(toScreen);
      return pts.some((q, i) => i > 0 && distToSegment(p, pts[i - 1]!, q) <= EDGE_PX);
    }
    case 'mask':
      return false;
  }
}

/** Shapes whose extent meets the normalised rectangle (for marquee selection). */
export function shapesInRect(editor: Editor, a: Vec, b: Vec): string[] {
  const x0 = Math.min(a.x, b.x);
  const x1 = Math.max(a.x, b.x);
  const y0 = Math.min(a.y, b.y);
  const y1 = Math.max(a.y, b.y);
  const inside = (p: Vec): boolean => p.x >= x0 && p.x <= x1 && p.y >= y0 && p.y <= y1;
  return editor.shapes
    .filter((s) => {
      if (s.kind === 'point') return inside(s);
      if (s.kind === 'box') return s.x0 <= x1 && s.x1 >= x0 && s.y0 <= y1 && s.y1 >= y0;
      if (s.kind === 'line') return s.points.some(inside);
      return false;
    })
    .map((s) => s.id);
}
