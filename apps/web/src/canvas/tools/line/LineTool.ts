// Lines and polylines. Press-drag-release draws a straight two-point line; clicks add vertices
// to a polyline that Enter or a double-click finishes; Backspace drops the last vertex; Escape
// abandons it. The whole polyline is one undo entry.
import { type Vec, dist } from '../../geometry';
import { type LineShape, newId } from '../../shapes';
import { DRAG_THRESHOLD_PX, type KeyInfo, type PointerInfo, StateNode, ToolNode } from '../StateNode';
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

class Drawing extends StateNode {
  readonly id = 'drawing';
  private points: Vec[] = [];
  private hover: Vec | null = null;
  override onEnter(info?: unknown): void {
    this.points = [...(info as Vec[])];
    this.show();
  }
  override onPointerMove(e: PointerInfo): void {
    this.hover = e.norm;
    this.show();
  }
  override onPointerUp(e: PointerInfo): void {
    const last = this.points.at(-1);
    // A release on the last vertex (the second half of a double-click) adds nothing.
    if (last && dist(last, e.norm) < 1e-6) return;
    this.points.push(e.norm);
    this.show();
  }
  override onDoubleClick(): void {
    this.onComplete();
  }
  override onComplete(): void {
    if (this.points.length >= 2) commitLine(this.editor, this.points);
    this.finish();
  }
  override onKeyDown(e: KeyInfo): boolean {
    if (e.key !== 'Backspace') return false;
    this.points.pop();
    if (this.points.length === 0) this.finish();
    else this.show();
    return true;
  }
  override onCancel(): void {
    this.finish();
  }
  private show(): void {
    const pts = this.hover ? [...this.points, this.hover] : this.points;
    this.editor.setPreview({ kind: 'polyline', points: pts, closed: false });
  }
  private finish(): void {
    this.points = [];
    this.hover = null;
    this.editor.setPreview(null);
    this.transition('idle');
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
