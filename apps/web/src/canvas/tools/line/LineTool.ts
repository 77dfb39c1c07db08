// Lines and polylines. Press-drag-release draws a straight two-point line; clicks add vertices
// to a polyline that Enter or a double-click finishes; Backspace drops the last vertex; Escape
// abandons it. The whole polyline is one undo entry.
import { type Vec, dist } from '../../geometry';
import { type LineShape, newId } from '../../shapes';
import { DRAG_THRESHOLD_PX, type PointerInfo, StateNode, ToolNode } from '../StateNode';
import { VertexDrawing } from '../VertexDrawing';
import type { Editor } from '../../editor';

class Idle extends StateNode {
  readonly id = 'idle';
  override onPointerDown(e: PointerInfo): void {
    this.transition('pointing', e);
  }
}

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
      this.transition('idle');
    } else {
      this.transition('drawing', [this.start.norm]);
    }
  }
  override onCancel(): void {
    this.editor.setPreview(null);
    this.transition('idle');
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

function commitLine(editor: Editor, points: readonly Vec[]): void {
  editor.setPreview(null);
  const shape: LineShape = { id: newId('line'), kind: 'line', points: [...points] };
  editor.createShape(shape);
  editor.select([shape.id]);
}

export class LineTool extends ToolNode {
  readonly id = 'line';
  protected readonly initial = 'idle';
  protected readonly states: Record<string, StateNode>;
  constructor(editor: Editor) {
    super(editor);
    this.states = {
      idle: new Idle(editor, this),
      pointing: new Pointing(editor, this),
      drawing: new Drawing(editor, this),
    };
  }
}
