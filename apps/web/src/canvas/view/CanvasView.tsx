// The drawing surface: react-konva layers for the frame, masks, committed prompts, an overlay
// supplied by the page (e.g. the predicted action path) and the interactive layer (handles,
// previews, brush cursor). Pointer and keyboard input go straight to the editor's tool machines;
// this component only converts DOM events and renders the store.
import { Fragment, type ReactNode, useEffect, useMemo, useRef } from 'react';
import { Circle, Group, Image as KImage, Layer, Line, Rect as KRect, Stage } from 'react-konva';
import type Konva from 'konva';
import type { CanvasState, Editor } from '../editor';
import { type Vec, normToScreen } from '../geometry';
import { kindOf, kinds } from '../kinds';
import { cursorCss, toolSpec } from '../tools';
import { type KeyInfo, useShortcutKeys } from '../../app/keys';
import { useEditorState } from './useEditor';
import { LINE } from './colors';

export type FrameSource = HTMLImageElement | HTMLCanvasElement | ImageBitmap;

interface Props {
  editor: Editor;
  frame: FrameSource | null;
  /** Page-specific drawing over the frame, given a normalised -> screen mapping. */
  overlay?: (toScreen: (p: Vec) => Vec) => ReactNode;
  /** Whether this canvas owns the keyboard (only one canvas on screen should). */
  keyboard?: boolean;
}

export function CanvasView({ editor, frame, overlay, keyboard = true }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const size = useEditorState(editor, (st) => st.containerSize);
  const tool = useEditorState(editor, (st) => st.tool);
  const panning = useEditorState(editor, (st) => st.panning);
  const path = useEditorState(editor, (st) => st.path);
  const count = useEditorState(editor, (st) => st.order.length);

  // Track the container size; refit when the frame's pixel size or the container changes.
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => {
      editor.setContainerSize({ width: el.clientWidth, height: el.clientHeight });
      editor.fitView();
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, [editor]);
  const fw = frame?.width ?? 0;
  const fh = frame?.height ?? 0;
  useEffect(() => {
    if (fw > 0 && fh > 0) {
      editor.setImageSize({ width: fw, height: fh });
      editor.fitView();
    }
  }, [editor, fw, fh]);

  // DOM pointer events -> editor. Native listeners: wheel must be non-passive to stop page zoom.
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const pos = (e: MouseEvent): Vec => {
      const r = el.getBoundingClientRect();
      return { x: e.clientX - r.left, y: e.clientY - r.top };
    };
    const mods = (e: MouseEvent) => ({
      button: e.button,
      alt: e.altKey,
      shift: e.shiftKey,
      ctrl: e.ctrlKey || e.metaKey,
    });
    const down = (e: PointerEvent): void => {
      if (e.pointerType === 'mouse' && e.button > 2) return;
      try {
        el.setPointerCapture(e.pointerId);
      } catch {
        // Synthetic events (benchmarks, tests) have no active pointer to capture.
      }
      el.focus();
      e.preventDefault();
      editor.pointerDown({ screen: pos(e), ...mods(e) });
    };
    const move = (e: PointerEvent): void => {
      // Coalesced events keep fast brush strokes smooth on high-rate pointers.
      const evs = e.getCoalescedEvents?.() ?? [];
      for (const c of evs.length > 0 ? evs : [e]) editor.pointerMove({ screen: pos(c), ...mods(e) });
    };
    const up = (e: PointerEvent): void => {
      if (el.hasPointerCapture(e.pointerId)) el.releasePointerCapture(e.pointerId);
      editor.pointerUp({ screen: pos(e), ...mods(e) });
    };
    const cancel = (): void => editor.cancel();
    const dbl = (e: MouseEvent): void => void editor.doubleClick({ screen: pos(e), ...mods(e) });
    const wheel = (e: WheelEvent): void => {
      e.preventDefault();
      if (e.ctrlKey || !e.shiftKey) editor.wheel(pos(e), e.deltaY * (e.deltaMode === 1 ? 16 : 1));
      else editor.panScreen(-e.deltaY, 0);
    };
    const leave = (): void => editor.pointerLeave();
    const menu = (e: Event): void => e.preventDefault();
    el.addEventListener('pointerdown', down);
    el.addEventListener('pointermove', move);
    el.addEventListener('pointerup', up);
    el.addEventListener('pointercancel', cancel);
    el.addEventListener('dblclick', dbl);
    el.addEventListener('wheel', wheel, { passive: false });
    el.addEventListener('pointerleave', leave);
    el.addEventListener('contextmenu', menu);
    return () => {
      el.removeEventListener('pointerdown', down);
      el.removeEventListener('pointermove', move);
      el.removeEventListener('pointerup', up);
      el.removeEventListener('pointercancel', cancel);
      el.removeEventListener('dblclick', dbl);
      el.removeEventListener('wheel', wheel);
      el.removeEventListener('pointerleave', leave);
      el.removeEventListener('contextmenu', menu);
    };
  }, [editor]);

  const keys = useMemo(
    () => ({ down: (e: KeyInfo) => editor.keyDown(e), up: (e: KeyInfo) => editor.keyUp(e) }),
    [editor],
  );
  useShortcutKeys(keyboard ? keys.down : null, keys.up);

  return (
    <div
      ref={box}
      className="canvas-box"
      data-testid="canvas"
      data-tool-path={path}
      data-shapes={count}
      tabIndex={0}
      style={{ cursor: cursorCss(toolSpec(tool), panning) }}
    >
      <Stage width={size.width} height={size.height} listening={false}>
        <FrameLayer editor={editor} frame={frame} />
        {kinds().map((k) => k.Layer && <k.Layer key={k.kind} editor={editor} />)}
        <PromptsLayer editor={editor} />
        {overlay && <OverlayLayer editor={editor} overlay={overlay} />}
        <InteractiveLayer editor={editor} />
        <CursorLayer editor={editor} />
      </Stage>
    </div>
  );
}

/** Normalised -> screen mapping for the current view; components re-render when the view moves. */
function useToScreen(editor: Editor): (p: Vec) => Vec {
  const v = useEditorState(editor, (st) => st.viewport);
  const size = useEditorState(editor, (st) => st.imageSize);
  return (p: Vec): Vec => normToScreen(v, size, p);
}

function FrameLayer({ editor, frame }: { editor: Editor; frame: FrameSource | null }) {
  const v = useEditorState(editor, (st) => st.viewport);
  return (
    <Layer listening={false}>
      {frame && (
        <KImage
          image={frame}
          x={v.x}
          y={v.y}
          scaleX={v.scale}
          scaleY={v.scale}
          // Past 2x the pixels themselves matter more than smoothness.
          imageSmoothingEnabled={v.scale < 2}
        />
      )}
    </Layer>
  );
}

function OverlayLayer({
  editor,
  overlay,
}: {
  editor: Editor;
  overlay: (toScreen: (p: Vec) => Vec) => ReactNode;
}) {
  const toScreen = useToScreen(editor);
  return <Layer listening={false}>{overlay(toScreen)}</Layer>;
}

function PromptsLayer({ editor }: { editor: Editor }) {
  const toScreen = useToScreen(editor);
  const order = useEditorState(editor, (st) => st.order);
  const all = useEditorState(editor, (st) => st.shapes);
  const selected = useEditorState(editor, (st) => st.selected);
  const shapes = order.map((id) => all[id]!);
  return (
    <Layer listening={false}>
      {shapes.map((sh) => (
        <Fragment key={sh.id}>
          {kindOf(sh).node?.(sh, { toScreen, selected: selected.includes(sh.id) })}
        </Fragment>
      ))}
    </Layer>
  );
}

function InteractiveLayer({ editor }: { editor: Editor }) {
  const toScreen = useToScreen(editor);
  const selected = useEditorState(editor, (st) => st.selected);
  const all = useEditorState(editor, (st) => st.shapes);
  const preview = useEditorState(editor, (st) => st.preview);
  return (
    <Layer listening={false}>
      {selected.flatMap((id) => {
        const sh = all[id];
        return sh
          ? kindOf(sh)
              .handles(sh)
              .map((h, i) => {
                const p = toScreen(h);
                return (
                  <KRect
                    key={`${id}-${i}`}
                    x={p.x - 4}
                    y={p.y - 4}
                    width={8}
                    height={8}
                    fill="#fff"
                    stroke="#1d6fd8"
                    strokeWidth={1.5}
                  />
                );
              })
          : [];
      })}
      {preview?.kind === 'polyline' && (
        <Line
          points={preview.points.flatMap((p) => {
            const q = toScreen(p);
            return [q.x, q.y];
          })}
          closed={preview.closed}
          stroke={preview.closed ? '#ff4fa3' : LINE}
          strokeWidth={2}
          dash={[6, 4]}
          fill={preview.closed ? 'rgba(255,79,163,0.15)' : undefined}
        />
      )}
      {preview?.kind === 'polyline' &&
        preview.points.map((p, i) => {
          const q = toScreen(p);
          return (
            <Circle
              key={i}
              x={q.x}
              y={q.y}
              radius={i === 0 ? 5 : 3}
              fill="#fff"
              stroke="#000"
              strokeWidth={1}
            />
          );
        })}
      {preview?.kind === 'marquee' &&
        (() => {
          const a = toScreen(preview.from);
          const b = toScreen(preview.to);
          return (
            <KRect
              x={Math.min(a.x, b.x)}
              y={Math.min(a.y, b.y)}
              width={Math.abs(b.x - a.x)}
              height={Math.abs(b.y - a.y)}
              stroke="#fff"
              dash={[4, 4]}
              strokeWidth={1}
              fill="rgba(255,255,255,0.06)"
            />
          );
        })()}
    </Layer>
  );
}

/**
 * The brush outline follows the pointer on every move: it is moved through Konva refs from a
 * direct store subscription, so pointer moves never re-render React components.
 */
function CursorLayer({ editor }: { editor: Editor }) {
  const layer = useRef<Konva.Layer>(null);
  const group = useRef<Konva.Group>(null);
  const tool = useEditorState(editor, (st) => st.tool);
  const radius = useEditorState(editor, (st) => st.brushRadius);
  const panning = useEditorState(editor, (st) => st.panning);
  const scale = useEditorState(editor, (st) => st.viewport.scale);
  const { cursor } = toolSpec(tool);
  const brush = typeof cursor === 'string' || panning ? null : cursor.brush;
  const active = brush !== null;
  useEffect(() => {
    const place = (st: CanvasState): void => {
      const g = group.current;
      if (!g) return;
      const c = st.cursor;
      g.visible(c !== null);
      if (c)
        g.position({
          x: c.x * st.viewport.scale + st.viewport.x,
          y: c.y * st.viewport.scale + st.viewport.y,
        });
      layer.current?.batchDraw();
    };
    place(editor.state);
    return editor.store.subscribe((st, prev) => {
      if (st.cursor !== prev.cursor || st.viewport !== prev.viewport) place(st);
    });
  }, [editor, active]);
  if (!active) return null;
  return (
    <Layer ref={layer} listening={false}>
      <Group ref={group}>
        <Circle radius={radius * scale} stroke="#000" strokeWidth={3} opacity={0.5} />
        <Circle
          radius={radius * scale}
          stroke={brush.stroke}
          strokeWidth={1.5}
          dash={brush.dash ? [...brush.dash] : undefined}
        />
      </Group>
    </Layer>
  );
}
