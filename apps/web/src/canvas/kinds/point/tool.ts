// Point prompts. Click places a point; dragging before release moves it; Alt-click, a right
// click or the negative-point tool places a negative ("not this") point. One undo entry per click.
import { newId } from '../../shapes';
import { type PointerInfo, type ToolSpec, idle } from '../../tools/StateNode';
import { ShapeGesture } from '../../tools/ShapeGesture';
import type { PointShape } from './util';

class Pointing extends ShapeGesture<PointShape> {
  readonly id = 'pointing';
  protected readonly kind = 'point';
  /** The negative-point tool places negatives whatever the button. */
  protected readonly negative: boolean = false;

  override onEnter(info?: unknown): void {
    const e = info as PointerInfo;
    const positive = !(this.negative || e.alt || e.button === 2);
    this.create('point', { id: newId('point'), kind: 'point', x: e.norm.x, y: e.norm.y, positive });
  }

  protected reshape(s: PointShape, e: PointerInfo): PointShape {
    return { ...s, x: e.norm.x, y: e.norm.y };
  }
}

class NegativePointing extends Pointing {
  protected override readonly negative = true;
}

export const POINT_TOOL: ToolSpec = {
  id: 'point',
  icon: 'M12 7a5 5 0 110 10 5 5 0 010-10zM12 9.5v5M9.5 12h5',
  label: 'Point',
  key: 'p',
  group: 'prompt',
  hint: 'Click: positive point; Alt or right click: negative',
  cursor: 'crosshair',
  states: [idle('pointing'), Pointing],
};

export const NEGATIVE_TOOL: ToolSpec = {
  id: 'negative',
  icon: 'M12 7a5 5 0 110 10 5 5 0 010-10zM9.5 12h5',
  label: 'Negative point',
  key: 'n',
  group: 'prompt',
  hint: 'Click: negative point ("not this")',
  cursor: 'crosshair',
  states: [idle('pointing'), NegativePointing],
};
