// Select, move, delete and vertex drag. Press on a handle drags that vertex; press on a shape
// selects it (Shift adds) and dragging moves the selection; press on empty canvas starts a
// marquee. Each drag is one undo entry; Escape mid-drag puts everything back.
import { type Vec, dist } from '../../geometry';
import { type Shape, translated, withHandle } from '../../shapes';
import { DRAG_THRESHOLD_PX, type PointerInfo, StateNode, ToolNode } from '../StateNode';
import { hitTest, shapesInRect } from './hitTest';
import type { Editor } from '../../editor';

class Idle extends StateNode {
  readonly id = 'idle';
  override onPointerDown(e: PointerInfo): void {
    const hit = hitTest(this.editor, e.screen);
    if (hit?.handle !== undefined) {
      this.transition('dragging_handle', { e, id: hit.id, handle: hit.handle });
      return;
    }
    if (hit) {
      const sel = this.editor.state.selected;
      if (e.shift) {
        this.editor.select(sel.includes(hit.id) ? sel.filter((id) => id !== hit.id) : [...sel, hit.id]);
      } else if (!sel.includes(hit.id)) {
        this.editor.select([hit.id]);
      }
      this.transition('pointing_shape', e);
      return;
    }
    if (!e.shift) this.editor.select([]);
    this.transition('brushing', e);
  }
}

class PointingShape extends StateNode {
  readonly id = 'pointing_shape';
  private start: PointerInfo | null = null;
  override onEnter(info?: unknown): void {
    this.start = info as PointerInfo;
  }
  override onPointerMove(e: PointerInfo): void {
    if (this.start && dist(e.screen, this.start.screen) > DRAG_THRESHOLD_PX)
      this.transition('translating', this.start);
  }
  override onPointerUp(): void {
    this.transition('idle');
  }
  override onCancel(): void {
    this.transition('idle');
  }
}

class Translating extends StateNode {
  readonly id = 'translating';
  private start: Vec = { x: 0, y: 0 };
  private snapshot: Shape[] = [];
  override onEnter(info?: unknown): void {
    this.start = (info as PointerInfo).norm;
    this.snapshot = this.editor.state.selected.flatMap((id) => this.editor.getShape(id) ?? []);
    this.editor.mark('move');
  }
  override onPointerMove(e: PointerInfo): void {
    const dx = e.norm.x - this.start.x;
    const dy = e.norm.y - this.start.y;
    for (const s of this.snapshot) this.editor.updateShape(translated(s, dx, dy));
  }
  override onPointerUp(): void {
    this.editor.squash();
    this.transition('idle');
  }
  override onCancel(): void {
    this.editor.bail();
    this.transition('idle');
  }
}

class DraggingHandle extends StateNode {
  readonly id = 'dragging_handle';
  private shape: Shape | null = null;
  private handle = 0;
  override onEnter(info?: unknown): void {
    const { id, handle } = info as { id: string; handle: number };
    this.shape = this.editor.getShape(id) ?? null;
    this.handle = handle;
    this.editor.mark('vertex');
  }
  override onPointerMove(e: PointerInfo): void {
    if (this.shape) this.editor.updateShape(withHandle(this.shape, this.handle, e.norm));
  }
  override onPointerUp(): void {
    this.editor.squash();
    this.transition('idle');
  }
  override onCancel(): void {
    this.editor.bail();
    this.transition('idle');
  }
}

class Brushing extends StateNode {
  readonly id = 'brushing';
  private from: Vec = { x: 0, y: 0 };
  private base: readonly string[] = [];
  override onEnter(info?: unknown): void {
    this.from = (info as PointerInfo).norm;
    this.base = this.editor.state.selected;
  }
  override onPointerMove(e: PointerInfo): void {
    this.editor.setPreview({ kind: 'marquee', from: this.from, to: e.norm });
    const inRect = shapesInRect(this.editor, this.from, e.norm);
    this.editor.select([...new Set([...this.base, ...inRect])]);
  }
  override onPointerUp(): void {
    this.editor.setPreview(null);
    this.transition('idle');
  }
  override onCancel(): void {
    this.editor.setPreview(null);
    this.editor.select(this.base);
    this.transition('idle');
  }
}

export class SelectTool extends ToolNode {
  readonly id = 'select';
  protected readonly initial = 'idle';
  protected readonly states: Record<string, StateNode>;
  constructor(editor: Editor) {
    super(editor);
    this.states = {
      idle: new Idle(editor, this),
      pointing_shape: new PointingShape(editor, this),
      translating: new Translating(editor, this),
      dragging_handle: new DraggingHandle(editor, this),
      brushing: new Brushing(editor, this),
    };
  }
}
