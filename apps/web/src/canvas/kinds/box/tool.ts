// Box prompts: press, drag past a few pixels to start creating, release to commit.
// A click without a drag creates nothing, nor does a drag along one axis (no area: the model
// rejects it). One undo entry per box.
import { type Vec, normaliseBox } from '../../geometry';
import { newId } from '../../shapes';
import { type DragStart, type PointerInfo, type ToolSpec, idle, pressing } from '../../tools/StateNode';
import { ShapeGesture } from '../../tools/ShapeGesture';
import type { BoxShape } from './util';

class Creating extends ShapeGesture<BoxShape> {
  readonly id = 'creating';
  protected readonly kind = 'box';
  private origin: Vec = { x: 0, y: 0 };

  override onEnter(info?: unknown): void {
    const { start, e } = info as DragStart;
    this.origin = start.norm;
    this.create('box', { id: newId('box'), kind: 'box', ...normaliseBox(this.origin, e.norm) });
  }
  protected reshape(s: BoxShape, e: PointerInfo): BoxShape {
    return { ...s, ...normaliseBox(this.origin, e.norm) };
  }
}

export const BOX_TOOL: ToolSpec = {
  id: 'box',
  icon: 'M5 6h14v12H5z',
  label: 'Box',
  key: 'b',
  group: 'prompt',
  hint: 'Drag a box around the target',
  cursor: 'crosshair',
  states: [idle('pointing'), pressing('pointing', 'creating'), Creating],
};
