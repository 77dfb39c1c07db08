// Select, move, delete and vertex drag. Press on a handle drags that vertex; press on a shape
// selects it (Shift adds) and dragging moves the selection; press on empty canvas starts a
// marquee. Each drag is one undo entry; Escape mid-drag puts everything back.
import type { Vec } from '../../geometry';
import type { ShapeBase } from '../../shapes';
import { kindOf } from '../../kinds';
import {
  type DragStart,
  Gesture,
  Idle,
  type PointerInfo,
  StateNode,
  type ToolSpec,
  pressing,
} from '../StateNode';
import { hitTest, shapesInRect } from './hitTest';

class SelectIdle extends Idle {
  override onPointerDown(e: PointerInfo): void {
    const hit = hitTest(this.editor, e.screen);
    if (hit?.handle !== undefined) {
      this.transition('dragging_handle', { id: hit.id, handle: hit.handle });
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

class Translating extends Gesture {
  readonly id = 'translating';
  private start: Vec = { x: 0, y: 0 };
  private snapshot: ShapeBase[] = [];
  override onEnter(info?: unknown): void {
    this.start = (info as DragStart).start.norm;
    this.snapshot = this.editor.state.selected.flatMap((id) => this.editor.getShape(id) ?? []);
    this.begin('move');
  }
  override onPointerMove(e: PointerInfo): void {
    const dx = e.norm.x - this.start.x;
    const dy = e.norm.y - this.start.y;
    for (const s of this.snapshot) this.editor.updateShape(kindOf(s).translated(s, dx, dy));
  }
}

class DraggingHandle extends Gesture {
  readonly id = 'dragging_handle';
  private shape: ShapeBase | null = null;
  private handle = 0;
  override onEnter(info?: unknown): void {
    const { id, handle } = info as { id: string; handle: number };
    this.shape = this.editor.getShape(id) ?? null;
    this.handle = handle;
    this.begin('vertex');
  }
  override onPointerMove(e: PointerInfo): void {
    if (this.shape) this.editor.updateShape(kindOf(this.shape).withHandle(this.shape, this.handle, e.norm));
  }
  protected override commit(): void {
    // A drag that leaves a shape the model would reject (a box corner dropped on its opposite
    // edge) is reverted, as a cancel would.
    const now = this.shape ? this.editor.getShape(this.shape.id) : undefined;
    if (now && !this.editor.accepts(now)) this.onCancel();
    else super.commit();
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
    this.rest();
  }
  override onCancel(): void {
    this.editor.setPreview(null);
    this.editor.select(this.base);
    this.rest();
  }
}

export const SELECT_TOOL: ToolSpec = {
  id: 'select',
  icon: 'M6 3l12 8.5-5.2 1.2L10 18z',
  label: 'Select',
  key: 'v',
  group: 'navigate',
  hint: 'Select, move, drag vertices; Delete removes',
  cursor: 'default',
  states: [SelectIdle, pressing('pointing_shape', 'translating'), Translating, DraggingHandle, Brushing],
};
