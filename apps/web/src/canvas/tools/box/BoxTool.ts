// Box prompts: press, drag past a few pixels to start creating, release to commit.
// A click without a drag creates nothing. One undo entry per box.
import { type Vec, dist, normaliseBox } from '../../geometry';
import { type BoxShape, newId } from '../../shapes';
import { DRAG_THRESHOLD_PX, type PointerInfo, StateNode, ToolNode } from '../StateNode';
import type { Editor } from '../../editor';
import { ShapeGesture } from '../ShapeGesture';

class Idle extends StateNode {
  readonly id = 'idle';
  override onPointerDown(e: PointerInfo): void {
    this.transition('pointing', e);
  }
}

interface Origin {
  screen: Vec;
  norm: Vec;
}

class Pointing extends StateNode {
  readonly id = 'pointing';
  private origin: Origin | null = null;
  override onEnter(info?: unknown): void {
    const e = info as PointerInfo;
    this.origin = { screen: e.screen, norm: e.norm };
  }
  override onPointerMove(e: PointerInfo): void {
    if (this.origin && dist(e.screen, this.origin.screen) > DRAG_THRESHOLD_PX) {
      this.transition('creating', { origin: this.origin, e });
    }
  }
  override onPointerUp(): void {
    this.transition('idle');
  }
  override onCancel(): void {
    this.transition('idle');
  }
}

class Creating extends ShapeGesture<BoxShape> {
  readonly id = 'creating';
  protected readonly kind = 'box';
  private origin: Vec = { x: 0, y: 0 };

  override onEnter(info?: unknown): void {
    const { origin, e } = info as { origin: Origin; e: PointerInfo };
    this.origin = origin.norm;
    this.begin('box', { id: newId('box'), kind: 'box', ...normaliseBox(this.origin, e.norm) });
  }
  protected reshape(s: BoxShape, e: PointerInfo): BoxShape {
    return { ...s, ...normaliseBox(this.origin, e.norm) };
  }
}

export class BoxTool extends ToolNode {
  readonly id = 'box';
  protected readonly initial = 'idle';
  protected readonly states: Record<string, StateNode>;
  constructor(editor: Editor) {
    super(editor);
    this.states = {
      idle: new Idle(editor, this),
      pointing: new Pointing(editor, this),
      creating: new Creating(editor, this),
    };
  }
}
