// The gesture shared by the point and box tools (and any kind drawn by a press-drag): a shape is
// created when the state is entered, reshaped while the pointer moves, and committed on release
// as one undo entry (selected); cancel takes it back out of history. A shape the model would
// reject (a box dragged along one axis has no area) is taken back out on release too.
import type { ShapeBase } from '../shapes';
import { Gesture, type PointerInfo } from './StateNode';

export abstract class ShapeGesture<S extends ShapeBase> extends Gesture {
  private shapeId: string | null = null;

  /** The shape kind this gesture edits (moves of another kind's shape are ignored). */
  protected abstract readonly kind: S['kind'];

  /** The shape after the pointer moved to `e`. */
  protected abstract reshape(shape: S, e: PointerInfo): S;

  /** Starts the undo entry (named `label`) and adds the shape. */
  protected create(label: string, shape: S): void {
    this.begin(label);
    this.shapeId = this.editor.createShape(shape).id;
  }

  override onPointerMove(e: PointerInfo): void {
    const s = this.shapeId ? this.editor.getShape(this.shapeId) : undefined;
    if (s?.kind === this.kind) this.editor.updateShape(this.reshape(s as S, e));
  }

  protected override commit(): void {
    const s = this.shapeId ? this.editor.getShape(this.shapeId) : undefined;
    this.shapeId = null;
    if (!s || !this.editor.accepts(s)) {
      this.editor.bail();
      this.rest();
      return;
    }
    this.editor.squash();
    this.editor.select([s.id]);
    this.rest();
  }

  override onCancel(): void {
    this.shapeId = null;
    super.onCancel();
  }
}
