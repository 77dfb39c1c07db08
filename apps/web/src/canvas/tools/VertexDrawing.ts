// The "placing vertices" state that polylines and polygons share: a growing vertex list with a
// hover preview, Backspace to drop the last vertex, Escape to abandon. Subclasses decide when and
// how the vertices are committed.
import { type Vec, dist } from '../geometry';
import { type KeyInfo, type PointerInfo, StateNode } from './StateNode';

export abstract class VertexDrawing extends StateNode {
  readonly id = 'drawing';
  /** Whether the preview closes the outline back to the first vertex. */
  protected abstract readonly closed: boolean;
  protected points: Vec[] = [];
  private hover: Vec | null = null;

  protected start(points: readonly Vec[]): void {
    this.points = [...points];
    this.hover = null;
    this.show();
  }
  override onPointerMove(e: PointerInfo): void {
    this.hover = e.norm;
    this.show();
  }
  /** Adds a vertex, except for a release on the last one (the second half of a double-click). */
  protected addVertex(p: Vec): void {
    const last = this.points.at(-1);
    if (last && dist(last, p) < 1e-6) return;
    this.points.push(p);
    this.show();
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
  protected show(): void {
    const pts = this.hover ? [...this.points, this.hover] : this.points;
    this.editor.setPreview({ kind: 'polyline', points: pts, closed: this.closed });
  }
  protected finish(): void {
    this.points = [];
    this.hover = null;
    this.editor.setPreview(null);
    this.rest();
  }
}
