// Polygon-to-mask: click vertices, close by clicking the first vertex, double-clicking or
// pressing Enter; the polygon is filled into the active mask (Alt while closing subtracts).
// Backspace drops the last vertex, Escape abandons. One undo entry per polygon.
import { type Vec, dist, normToImage } from '../../geometry';
import { fillPolygon } from '../mask/raster';
import { type KeyInfo, type PointerInfo, StateNode, ToolNode } from '../StateNode';
import type { Editor } from '../../editor';

/** Screen px within which a click on the first vertex closes the polygon. */
const CLOSE_PX = 8;

class Idle extends StateNode {
  readonly id = 'idle';
  override onPointerUp(e: PointerInfo): void {
    this.transition('drawing', e);
  }
}

class Drawing extends StateNode {
  readonly id = 'drawing';
  private points: Vec[] = [];
  private hover: Vec | null = null;

  override onEnter(info?: unknown): void {
    this.points = [(info as PointerInfo).norm];
    this.show();
  }
  override onPointerMove(e: PointerInfo): void {
    this.hover = e.norm;
    this.show();
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
    const last = this.points.at(-1)!;
    if (dist(last, e.norm) < 1e-6) return;
    this.points.push(e.norm);
    this.show();
  }
  override onDoubleClick(e: PointerInfo): void {
    this.close(e.alt);
  }
  override onComplete(): void {
    this.close(false);
  }
  override onKeyDown(e: KeyInfo): boolean {
    if (e.key !== 'Backspace') return false;
    this.points.pop();
    if (this.points.length === 0) this.finish();
    else this.show();
    return true;
  }
  override onCancel(): void {
    this.finish();
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
  private show(): void {
    const pts = this.hover ? [...this.points, this.hover] : this.points;
    this.editor.setPreview({ kind: 'polyline', points: pts, closed: true });
  }
  private finish(): void {
    this.points = [];
    this.hover = null;
    this.editor.setPreview(null);
    this.transition('idle');
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
