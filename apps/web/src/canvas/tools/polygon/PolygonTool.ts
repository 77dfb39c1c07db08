// Polygon-to-mask: click vertices, close by clicking the first vertex, double-clicking or
// pressing Enter; the polygon is filled into the active mask (Alt while closing subtracts).
// Backspace drops the last vertex, Escape abandons. One undo entry per polygon.
import { dist, normToImage } from '../../geometry';
import { fillPolygon } from '../mask/raster';
import { type PointerInfo, StateNode, ToolNode } from '../StateNode';
import { VertexDrawing } from '../VertexDrawing';
import type { Editor } from '../../editor';

/** Screen px within which a click on the first vertex closes the polygon. */
const CLOSE_PX = 8;

class Idle extends StateNode {
  readonly id = 'idle';
  override onPointerUp(e: PointerInfo): void {
    this.transition('drawing', e);
  }
}

class Drawing extends VertexDrawing {
  protected readonly closed = true;

  override onEnter(info?: unknown): void {
    this.start([(info as PointerInfo).norm]);
  }
  override onPointerUp(e: PointerInfo): void {
    const first = this.points[0]!;
    const v = this.editor.state.viewport;
    const { width, height } = this.editor.state.imageSize;
    const firstScreen = { x: first.x * width * v.scale + v.x, y: first.y * height * v.scale + v.y };
    if (this.points.length >= 3 && dist(firstScreen, e.screen) <= CLOSE_PX) {
      this.close(e.alt);
      return;
    }
    this.addVertex(e.norm);
  }
  override onDoubleClick(e: PointerInfo): void {
    this.close(e.alt);
  }
  override onComplete(): void {
    this.close(false);
  }

  private close(subtract: boolean): void {
    if (this.points.length >= 3) {
      const size = this.editor.state.imageSize;
      const poly = this.points.map((p) => normToImage(size, p));
      this.editor.mark('polygon');
      if (!subtract || this.editor.state.activeMask) {
        this.editor.beginMaskEdit(this.editor.ensureActiveMask());
        this.editor.paintMask((m) => fillPolygon(m, poly, subtract ? 0 : 1));
        this.editor.endMaskEdit();
      }
      this.editor.squash();
    }
    this.finish();
  }
}

export class PolygonTool extends ToolNode {
  readonly id = 'polygon';
  protected readonly initial = 'idle';
  protected readonly states: Record<string, StateNode>;
  constructor(editor: Editor) {
    super(editor);
    this.states = { idle: new Idle(editor, this), drawing: new Drawing(editor, this) };
  }
}
