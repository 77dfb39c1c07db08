// Masks as bitmaps (after Label Studio's bitmask region): each mask is one offscreen canvas
// shown as a single non-listening Konva.Image. Painting reports dirty rectangles; they are
// merged and copied into the canvas with putImageData at most once per animation frame, so a
// brush stroke never re-encodes or re-uploads the whole frame.
import { useEffect, useRef, useState } from 'react';
import { Image as KImage, Layer } from 'react-konva';
import type Konva from 'konva';
import type { Editor } from '../../editor';
import { type Rect, unionRect } from '../../raster';
import { useEditorState } from '../../view/useEditor';
import { MASK_ALPHA, MASK_COLORS } from '../../view/colors';
import { isMask } from './shape';

interface Surface {
  canvas: HTMLCanvasElement;
  pixels: ImageData;
  color: readonly [number, number, number];
}

export function MaskLayer({ editor }: { editor: Editor }) {
  const layer = useRef<Konva.Layer>(null);
  const surfaces = useRef(new Map<string, Surface>());
  const pending = useRef(new Map<string, Rect | null>());
  const frame = useRef<number | null>(null);
  const nextColor = useRef(0);
  // A mask keeps its colour through undo / redo (which drop and recreate its surface).
  const colors = useRef(new Map<string, readonly [number, number, number]>());
  const [, setVersion] = useState(0);
  const order = useEditorState(editor, (s) => s.order);
  const shapes = useEditorState(editor, (s) => s.shapes);
  const viewport = useEditorState(editor, (s) => s.viewport);
  const maskIds = order.filter((id) => isMask(shapes[id]));

  useEffect(() => {
    const flush = (): void => {
      frame.current = null;
      let created = false;
      for (const [id, dirty] of pending.current) {
        const m = editor.getMask(id);
        if (!m) {
          surfaces.current.delete(id);
          continue;
        }
        let s = surfaces.current.get(id);
        let fresh = false;
        if (!s || s.canvas.width !== m.width || s.canvas.height !== m.height) {
          const canvas = document.createElement('canvas');
          canvas.width = m.width;
          canvas.height = m.height;
          let color = colors.current.get(id);
          if (!color) {
            color = MASK_COLORS[nextColor.current++ % MASK_COLORS.length]!;
            colors.current.set(id, color);
          }
          s = { canvas, pixels: new ImageData(m.width, m.height), color };
          surfaces.current.set(id, s);
          fresh = created = true;
        }
        const r = dirty && !fresh ? dirty : { x: 0, y: 0, w: m.width, h: m.height };
        const [cr, cg, cb] = s.color;
        const px = s.pixels.data;
        for (let y = r.y; y < r.y + r.h; y++) {
          for (let x = r.x; x < r.x + r.w; x++) {
            const i = y * m.width + x;
            const o = i * 4;
            if (m.data[i]) {
              px[o] = cr;
              px[o + 1] = cg;
              px[o + 2] = cb;
              px[o + 3] = MASK_ALPHA;
            } else px[o + 3] = 0;
          }
        }
        s.canvas.getContext('2d')!.putImageData(s.pixels, 0, 0, r.x, r.y, r.w, r.h);
      }
      pending.current.clear();
      if (created) setVersion((v) => v + 1);
      layer.current?.batchDraw();
    };
    const off = editor.onMaskChange((id, dirty) => {
      const prev = pending.current.get(id);
      pending.current.set(
        id,
        prev === undefined ? dirty : prev === null || dirty === null ? null : unionRect(prev, dirty),
      );
      frame.current ??= requestAnimationFrame(flush);
    });
    // Masks that exist before this layer mounted (imported prompts) are drawn on the first frame.
    for (const s of editor.shapes) if (isMask(s)) pending.current.set(s.id, null);
    frame.current ??= requestAnimationFrame(flush);
    return () => {
      off();
      if (frame.current !== null) cancelAnimationFrame(frame.current);
      frame.current = null;
    };
  }, [editor]);

  return (
    <Layer
      ref={layer}
      listening={false}
      x={viewport.x}
      y={viewport.y}
      scaleX={viewport.scale}
      scaleY={viewport.scale}
    >
      {maskIds.map((id) => {
        const s = surfaces.current.get(id);
        return s ? (
          <KImage key={id} image={s.canvas} imageSmoothingEnabled={false} listening={false} />
        ) : null;
      })}
    </Layer>
  );
}
