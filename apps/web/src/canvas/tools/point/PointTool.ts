// Point prompts. Click places a point; dragging before release moves it; Alt-click, a right
// click or the negative-point tool places a negative ("not this") point. One undo entry per click.
import type { PointShape } from '../../shapes';
import { newId } from '../../shapes';
import { type PointerInfo, StateNode, ToolNode } from '../StateNode';
import type { Editor } from '../../editor';

class Idle extends StateNode {
  readonly id = 'idle';
  override onPointerDown(e: PointerInfo): void {
    this.transition('pointing', e);
  }
}

class Pointing extends StateNode {
  readonly id = 'pointing';
  private shapeId: string | null = null;

  constructor(
    editor: Editor,
    parent: ToolNode,
    private readonly negativeTool: boolean,
  ) {
    super(editor, parent);
  }

  override onEnter(info?: unknown): void {
    const e = info as PointerInfo;
    this.editor.mark('point');
    const positive = !(this.negativeTool || e.alt || e.button === 2);
    const shape: PointShape = { id: newId('point'), kind: 'point', x: e.norm.x, y: e.norm.y, positive };
    this.shapeId = this.editor.createShape(shape).id;
  }

  override onPointerMove(e: PointerInfo): void {
    const s = this.shapeId ? this.editor.getShape(this.shapeId) : undefined;
    if (s?.kind === 'point') this.editor.updateShape({ ...s, x: e.norm.x, y: e.norm.y });
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
