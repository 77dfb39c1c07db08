// What is under the pointer, in screen-pixel tolerances so picking feels the same at any zoom.
// Each kind answers for its own shapes (kinds/*); this file only decides the order.
import { type Vec, dist, normaliseBox, normToScreen, screenToImage } from '../../geometry';
import { type PickContext, kindOf } from '../../kinds';
import type { Editor } from '../../editor';

export const HANDLE_PX = 7;

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
    const i = kindOf(s)
      .handles(s)
      .findIndex((h) => dist(toScreen(h), screen) <= HANDLE_PX);
    if (i >= 0) return { id, handle: i };
  }
  const ctx: PickContext = {
    toScreen,
    image: screenToImage(viewport, screen),
    mask: (id) => editor.getMask(id),
  };
  const topFirst = [...editor.shapes].reverse();
  // Kinds drawn as nodes (the vector prompts) sit above the layer kinds (masks) and win over
  // them: they are small and hard to hit otherwise.
  for (const onLayer of [false, true]) {
    for (const s of topFirst) {
      const k = kindOf(s);
      if (Boolean(k.Layer) === onLayer && k.hits(s, screen, ctx)) return { id: s.id };
    }
  }
  return null;
}

/** Shapes whose extent meets the normalised rectangle (for marquee selection). */
export function shapesInRect(editor: Editor, a: Vec, b: Vec): string[] {
  const r = normaliseBox(a, b);
  return editor.shapes.filter((s) => kindOf(s).meets(s, r)).map((s) => s.id);
}
