// Polygon-to-mask: click vertices, close by clicking the first vertex, double-clicking or
// pressing Enter; the polygon is filled into the active mask (Alt while closing subtracts).
// Backspace drops the last vertex, Escape abandons. One undo entry per polygon. It adds no kind
// of its own: what it makes is the mask kind's (kinds/mask), which lists it among its tools.
import { dist, normToImage, normToScreen } from '../../geometry';
import { fillPolygon } from '../../raster';
import { type PointerInfo, type ToolSpec, idle } from '../../tools/StateNode';
import { VertexDrawing } from '../../tools/VertexDrawing';

/** Screen px within which a click on the first vertex closes the polygon. */
const CLOSE_PX = 8;

class Drawing extends VertexDrawing {
  protected readonly closed = true;

  override onEnter(info?: unknown): void {
    this.start([(info as PointerInfo).norm]);
  }
  override onPointerUp(e: PointerInfo): void {
    const { viewport, imageSize } = this.editor.state;
    const first = normToScreen(viewport, imageSize, this.points[0]!);
    if (this.points.length >= 3 && dist(first, e.screen) <= CLOSE_PX) {
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
    // Subtracting needs a mask to subtract from.
    if (this.points.length >= 3 && (!subtract || this.editor.state.activeMask)) {
      const size = this.editor.state.imageSize;
      const poly = this.points.map((p) => normToImage(size, p));
      this.editor.beginMaskStroke('polygon');
      this.editor.paintMask((m) => fillPolygon(m, poly, subtract ? 0 : 1));
      this.editor.endMaskStroke();
    }
    this.finish();
  }
}

export const POLYGON_TOOL: ToolSpec = {
  id: 'polygon',
  icon: 'M12 3.5l8 6-3 10H7l-3-10z',
  label: 'Polygon to mask',
  key: 'g',
  group: 'mask',
  hint: 'Click vertices, close on the first or Enter; fills the mask',
  cursor: 'crosshair',
  states: [idle('drawing', 'up'), Drawing],
};
