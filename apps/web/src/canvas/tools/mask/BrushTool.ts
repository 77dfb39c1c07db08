// The mask brush paints round strokes into the active mask (creating one on first use); Alt
// paints with the eraser instead. One undo entry per stroke, holding only the touched pixels.
import type { Vec } from '../../geometry';
import { paintDisc, paintSegment } from './raster';
import { type PointerInfo, StateNode, ToolNode } from '../StateNode';
import type { Editor } from '../../editor';

class Idle extends StateNode {
  readonly id = 'idle';
  constructor(
    editor: Editor,
    parent: ToolNode,
    private readonly erase: boolean,
  ) {
    super(editor, parent);
  }
  override onPointerDown(e: PointerInfo): void {
    const erase = this.erase !== e.alt;
    // Erasing needs something to erase; painting creates the mask it paints into.
    if (erase && !this.editor.state.activeMask) return;
    this.transition('painting', { e, erase });
  }
}

class Painting extends StateNode {
  readonly id = 'painting';
  private last: Vec | null = null;
  private value: 0 | 1 = 1;

  override onEnter(info?: unknown): void {
    const { e, erase } = info as { e: PointerInfo; erase: boolean };
    this.value = erase ? 0 : 1;
    this.editor.mark(erase ? 'erase' : 'paint');
    const id = this.editor.ensureActiveMask();
    this.editor.beginMaskEdit(id);
    const r = this.editor.state.brushRadius;
    this.editor.paintMask((m) => paintDisc(m, e.image, r, this.value));
    this.last = e.image;
  }
  override onPointerMove(e: PointerInfo): void {
    const from = this.last ?? e.image;
    const r = this.editor.state.brushRadius;
    this.editor.paintMask((m) => paintSegment(m, from, e.image, r, this.value));
    this.last = e.image;
  }
  override onPointerUp(): void {
    this.editor.endMaskEdit();
    this.editor.squash();
    this.last = null;
    this.transition('idle');
  }
  override onCancel(): void {
    this.editor.abortMaskEdit();
    this.editor.bail();
    this.last = null;
    this.transition('idle');
  }
}

export class BrushTool extends ToolNode {
  readonly id: string;
  protected readonly initial = 'idle';
  protected readonly states: Record<string, StateNode>;
  constructor(editor: Editor, erase = false) {
    super(editor);
    this.id = erase ? 'eraser' : 'brush';
    this.states = { idle: new Idle(editor, this, erase), painting: new Painting(editor, this) };
  }
}
