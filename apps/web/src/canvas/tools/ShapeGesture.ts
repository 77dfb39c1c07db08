// The gesture shared by the point and box tools: a shape is created when the state is entered,
// reshaped while the pointer moves, and committed on release as one undo entry (selected);
// cancel takes it back out of history.
import type { Shape } from '../shapes';
import { type PointerInfo, StateNode } from './StateNode';

export abstract class ShapeGesture<S extends Shape> extends StateNode {
  private shapeId: string | null = null;

  /** The shape kind this gesture edits (moves of another kind's shape are ignored). */
  protected abstract readonly kind: S['kind'];

  /** The shape after the pointer moved to `e`. */
  protected abstract reshape(shape: S, e: PointerInfo): S;

  /** Starts the undo entry (named `mark`) and adds the shape. */
  protected begin(mark: string, shape: S): void {
    this.editor.mark(mark);
    this.shapeId = this.editor.createShape(shape).id;
  }

  override onPointerMove(e: PointerInfo): void {
    const s = this.shapeId ? this.editor.getShape(this.shapeId) : undefined;
    if (s?.kind === this.kind) this.editor.updateShape(this.reshape(s as S, e));
  }

  override onPointerUp(): void {
    this.editor.squash();
    if (this.shapeId) this.editor.select([this.shapeId]);
    this.shapeId = null;
    this.transition('idle');
  }

  override onCancel(): void {
    this.editor.bail();
    this.shapeId = null;
    this.transition('idle');
  }
}
