// Point prompts. Click places a point; dragging before release moves it; Alt-click, a right
// click or the negative-point tool places a negative ("not this") point. One undo entry per click.
import type { PointShape } from '../../shapes';
import { newId } from '../../shapes';
import { type PointerInfo, StateNode, ToolNode } from '../StateNode';
import type { Editor } from '../../editor';
import { ShapeGesture } from '../ShapeGesture';

class Idle extends StateNode {
  readonly id = 'idle';
  override onPointerDown(e: PointerInfo): void {
    this.transition('pointing', e);
  }
}

class Pointing extends ShapeGesture<PointShape> {
  readonly id = 'pointing';
  protected readonly kind = 'point';

  constructor(
    editor: Editor,
    parent: ToolNode,
    private readonly negativeTool: boolean,
  ) {
    super(editor, parent);
  }

  override onEnter(info?: unknown): void {
    const e = info as PointerInfo;
    const positive = !(this.negativeTool || e.alt || e.button === 2);
    this.begin('point', { id: newId('point'), kind: 'point', x: e.norm.x, y: e.norm.y, positive });
  }

  protected reshape(s: PointShape, e: PointerInfo): PointShape {
    return { ...s, x: e.norm.x, y: e.norm.y };
  }
}

export class PointTool extends ToolNode {
  readonly id: string;
  protected readonly initial = 'idle';
  protected readonly states: Record<string, StateNode>;
  constructor(editor: Editor, negative = false) {
    super(editor);
    this.id = negative ? 'negative' : 'point';
    this.states = { idle: new Idle(editor, this), pointing: new Pointing(editor, this, negative) };
  }
}
