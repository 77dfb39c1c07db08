// Lines and polylines. Press-drag-release draws a straight two-point line; clicks add vertices
// to a polyline that Enter or a double-click finishes; Backspace drops the last vertex; Escape
// abandons it. The whole polyline is one undo entry.
import { type Vec, dist } from '../../geometry';
import { newId } from '../../shapes';
import { DRAG_THRESHOLD_PX, type PointerInfo, StateNode, type ToolSpec, idle } from '../../tools/StateNode';
import { VertexDrawing } from '../../tools/VertexDrawing';
import type { Editor } from '../../editor';
import type { LineShape } from './util';

/** First press: becomes a straight line if dragged, or the first polyline vertex if released. */
class Pointing extends StateNode {
  readonly id = 'pointing';
  private start: PointerInfo | null = null;
  private dragged = false;
  override onEnter(info?: unknown): void {
    this.start = info as PointerInfo;
    this.dragged = false;
  }
  override onPointerMove(e: PointerInfo): void {
    if (!this.start) return;
    if (dist(e.screen, this.start.screen) > DRAG_THRESHOLD_PX) this.dragged = true;
    this.editor.setPreview({ kind: 'polyline', points: [this.start.norm, e.norm], closed: false });
  }
  override onPointerUp(e: PointerInfo): void {
    if (!this.start) return;
    if (this.dragged) {
      commitLine(this.editor, [this.start.norm, e.norm]);
      this.rest();
    } else {
      this.transition('drawing', [this.start.norm]);
    }
  }
  override onCancel(): void {
    this.editor.setPreview(null);
    this.rest();
  }
}

class Drawing extends VertexDrawing {
  protected readonly closed = false;
  override onEnter(info?: unknown): void {
    this.start(info as Vec[]);
  }
  override onPointerUp(e: PointerInfo): void {
    this.addVertex(e.norm);
  }
  override onDoubleClick(): void {
    this.onComplete();
  }
  override onComplete(): void {
    if (this.points.length >= 2) commitLine(this.editor, this.points);
    this.finish();
  }
}

/** Adds the line as one undo entry, unless the model would reject it (a drag clamped to one spot). */
function commitLine(editor: Editor, points: readonly Vec[]): void {
  editor.setPreview(null);
  const shape: LineShape = { id: newId('line'), kind: 'line', points: [...points] };
  if (!editor.accepts(shape)) return;
  editor.createShape(shape);
  editor.select([shape.id]);
}

export const LINE_TOOL: ToolSpec = {
  id: 'line',
  icon: 'M4 18l6-8 5 4 5-9',
  label: 'Line',
  key: 'l',
  group: 'prompt',
  hint: 'Drag: line; clicks: polyline, Enter or double-click ends',
  cursor: 'crosshair',
  states: [idle('pointing'), Pointing, Drawing],
};
