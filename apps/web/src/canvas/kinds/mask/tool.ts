// The mask brush paints round strokes into the active mask (creating one on first use); Alt
// paints with the eraser instead. The eraser is the brush painting zeros (destination-out in the
// view). One undo entry per stroke, holding only the touched pixels.
import type { Vec } from '../../geometry';
import { paintDisc, paintSegment } from '../../raster';
import { Idle, type PointerInfo, StateNode, type ToolSpec } from '../../tools/StateNode';

class BrushIdle extends Idle {
  protected readonly erase: boolean = false;
  override onPointerDown(e: PointerInfo): void {
    const erase = this.erase !== e.alt;
    // Erasing needs something to erase; painting creates the mask it paints into.
    if (erase && !this.editor.state.activeMask) return;
    this.transition('painting', { e, erase });
  }
}

class EraserIdle extends BrushIdle {
  protected override readonly erase = true;
}

class Painting extends StateNode {
  readonly id = 'painting';
  private last: Vec | null = null;
  private value: 0 | 1 = 1;

  override onEnter(info?: unknown): void {
    const { e, erase } = info as { e: PointerInfo; erase: boolean };
    this.value = erase ? 0 : 1;
    this.editor.beginMaskStroke(erase ? 'erase' : 'paint');
    const r = this.editor.state.brushRadius;
    this.editor.paintMask((m) => paintDisc(m, e.image, r, this.value));
    this.last = e.image;
  }
  override onPointerMove(e: PointerInfo): void {
    const from = this.last ?? e.image;
    const r = this.editor.state.brushRadius;
    this.editor.paintMask((m) => paintSegment(m, from, e.image, r, this.value));
    this.last = e.image;
  }
  override onPointerUp(): void {
    this.editor.endMaskStroke();
    this.last = null;
    this.rest();
  }
  override onCancel(): void {
    this.editor.abortMaskStroke();
    this.last = null;
    this.rest();
  }
}

export const BRUSH_TOOL: ToolSpec = {
  id: 'brush',
  icon: 'M19.5 3.5l1 1-8.5 9.5-2-2zM9 13c-2.5 0-4 1.6-4 4.5 0 .8-.5 1.6-1.5 2 3.5.8 7-.6 7.5-4.5',
  label: 'Mask brush',
  key: 'm',
  group: 'mask',
  hint: 'Paint the mask; [ and ] size; Alt erases',
  cursor: { brush: { stroke: '#ff4fa3' } },
  states: [BrushIdle, Painting],
};

export const ERASER_TOOL: ToolSpec = {
  id: 'eraser',
  icon: 'M14.5 4.5l5 5-9 9.5H7l-3.5-3.5zM9.5 9.5l5 5M10 19h10',
  label: 'Eraser',
  key: 'e',
  group: 'mask',
  hint: 'Erase from the active mask',
  cursor: { brush: { stroke: '#fff', dash: [4, 3] } },
  states: [EraserIdle, Painting],
};
