// For tests: an editor whose screen, image and normalised coordinates all differ.
import { Editor } from './editor';
import type { Vec } from './geometry';

/** A 200x100 frame shown at 2x, panned by (10, 20). */
export function testEditor(): Editor {
  const ed = new Editor({ width: 200, height: 100 });
  ed.setViewport({ scale: 2, x: 10, y: 20 });
  return ed;
}

/** The screen position of a normalised coordinate under testEditor's view. */
export const at = (nx: number, ny: number): Vec => ({ x: 10 + nx * 200 * 2, y: 20 + ny * 100 * 2 });
