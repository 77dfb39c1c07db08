// The hand pans the view. Space held (or the middle button) pans from any tool (see Editor).
import type { Vec } from '../../geometry';
import { type PointerInfo, StateNode, ToolNode } from '../StateNode';
import type { Editor } from '../../editor';

class Idle extends StateNode {
  readonly id = 'idle';
  override onPointerDown(e: PointerInfo): void {
    this.transition('panning', e);
  }
}

class Panning extends StateNode {
  readonly id = 'panning';
  private last: Vec = { x: 0, y: 0 };
  override onEnter(info?: unknown): void {
    this.last = (info as PointerInfo).screen;
  }
  override onPointerMove(e: PointerInfo): void {
    this.editor.panScreen(e.screen.x - this.last.x, e.screen.y - this.last.y);
    this.last = e.screen;
  }
  override onPointerUp(): void {
    this.transition('idle');
  }
  override onCancel(): void {
    this.transition('idle');
  }
}

export class HandTool extends ToolNode {
  readonly id = 'hand';
  protected readonly initial = 'idle';
  protected readonly states: Record<string, StateNode>;
  constructor(editor: Editor) {
    super(editor);
    this.states = { idle: new Idle(editor, this), panning: new Panning(editor, this) };
  }
}
