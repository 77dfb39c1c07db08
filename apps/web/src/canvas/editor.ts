// The headless canvas editor: the store of prompt shapes and mask bitmaps, the viewport, the
// undo history and the active tool. React views subscribe to `editor.store`; tests drive the
// same object with pointer sequences and read the store, no DOM needed. It knows no prompt kind
// (each lives in kinds/<kind>/) except that masks carry a bitmap the mask tools paint into.
import { createStore, type StoreApi } from 'zustand/vanilla';
import {
  IDENTITY,
  type Size,
  type Vec,
  type Viewport,
  clampNorm,
  fit,
  imageToNorm,
  panBy,
  screenToImage,
  zoomAt,
} from './geometry';
import { History } from './history';
import type { ShapeBase } from './shapes';
import { type MaskBitmap, type Rect, copyRect, emptyMask, maskArea, pasteRect, unionRect } from './raster';
import { type KeyInfo, type PointerInfo, ToolNode } from './tools/StateNode';
import { type ToolId, toolSpec } from './tools';
import { kindOf } from './kinds';
import { type MaskShape, isMask, newMask } from './kinds/mask/shape';
import { dispatchKey, dispatchKeyUp } from '../app/commands';
import { canvasCommands } from './commands';

/** Transient drawing state shown by the interactive layer (never in history). */
export type Preview =
  | { readonly kind: 'polyline'; readonly points: readonly Vec[]; readonly closed: boolean }
  | { readonly kind: 'marquee'; readonly from: Vec; readonly to: Vec };

export interface CanvasState {
  readonly shapes: Readonly<Record<string, ShapeBase>>;
  /** Draw order, bottom first. */
  readonly order: readonly string[];
  readonly selected: readonly string[];
  /** The mask the brush, eraser and polygon paint into. */
  readonly activeMask: string | null;
  readonly tool: ToolId;
  /** e.g. "box.creating": the tool and its state, for tests and the status bar. */
  readonly path: string;
  readonly viewport: Viewport;
  readonly imageSize: Size;
  readonly containerSize: Size;
  /** Brush / eraser radius in frame pixels. */
  readonly brushRadius: number;
  readonly preview: Preview | null;
  /** The pointer in frame pixels, or null when it is outside the canvas. */
  readonly cursor: Vec | null;
  readonly panning: boolean;
  readonly canUndo: boolean;
  readonly canRedo: boolean;
  readonly helpOpen: boolean;
}

export type MaskListener = (id: string, dirty: Rect | null) => void;

export interface PointerInput {
  readonly screen: Vec;
  readonly button?: number;
  readonly alt?: boolean;
  readonly shift?: boolean;
  readonly ctrl?: boolean;
}

export const MIN_BRUSH = 1;
export const MAX_BRUSH = 200;

export class Editor {
  readonly store: StoreApi<CanvasState>;
  readonly history = new History();
  private readonly masks = new Map<string, MaskBitmap>();
  private readonly maskListeners = new Set<MaskListener>();
  /** Built on first use from the TOOLS table (kinds registered later add tools). */
  private readonly tools = new Map<ToolId, ToolNode>();
  private spaceDown = false;
  private panFrom: Vec | null = null;
  /**
   * The open mask stroke: a copy of the bitmap before it, the area touched so far, and whether
   * the mask existed before the stroke (a new mask left empty is taken back without a trace).
   */
  private maskEdit: { id: string; before: MaskBitmap; dirty: Rect | null; existed: boolean } | null = null;

  constructor(imageSize: Size = { width: 640, height: 480 }, initialTool: ToolId = 'point') {
    this.store = createStore<CanvasState>(() => ({
      shapes: {},
      order: [],
      selected: [],
      activeMask: null,
      tool: initialTool,
      path: `${initialTool}.idle`,
      viewport: IDENTITY,
      imageSize,
      containerSize: imageSize,
      brushRadius: 12,
      preview: null,
      cursor: null,
      panning: false,
      canUndo: false,
      canRedo: false,
      helpOpen: false,
    }));
    this.tool.onEnter();
    this.syncPath();
  }

  get state(): CanvasState {
    return this.store.getState();
  }

  private set(patch: Partial<CanvasState>): void {
    this.store.setState(patch);
  }

  get tool(): ToolNode {
    return this.toolNode(this.state.tool);
  }

  private toolNode(id: ToolId): ToolNode {
    let node = this.tools.get(id);
    if (!node) {
      node = new ToolNode(this, toolSpec(id));
      this.tools.set(id, node);
    }
    return node;
  }

  syncPath(): void {
    this.set({ path: this.tool.path });
  }

  // ---------------------------------------------------------------- tools

  setTool(id: ToolId): void {
    if (id === this.state.tool) return;
    this.toolNode(id); // an unknown id throws before the current tool is left
    this.tool.onExit();
    this.set({ tool: id, preview: null });
    this.tool.onEnter();
    this.syncPath();
  }

  cancel(): void {
    this.tool.onCancel();
    this.set({ preview: null });
    this.syncPath();
  }

  /** Enter: the tool finishes what it is drawing (a polyline, a polygon). */
  complete(): void {
    this.tool.onComplete();
    this.syncPath();
  }

  // ---------------------------------------------------------------- pointer input

  pointerInfo(input: PointerInput): PointerInfo {
    const image = screenToImage(this.state.viewport, input.screen);
    return {
      screen: input.screen,
      image,
      norm: clampNorm(imageToNorm(this.state.imageSize, image)),
      button: input.button ?? 0,
      alt: input.alt ?? false,
      shift: input.shift ?? false,
      ctrl: input.ctrl ?? false,
    };
  }

  pointerDown(input: PointerInput): this {
    // Middle button and Space+drag pan from any tool without leaving it.
    if (input.button === 1 || this.spaceDown) {
      this.panFrom = input.screen;
      this.set({ panning: true });
      return this;
    }
    this.tool.onPointerDown(this.pointerInfo(input));
    this.syncPath();
    return this;
  }

  pointerMove(input: PointerInput): this {
    const info = this.pointerInfo(input);
    this.set({ cursor: info.image });
    if (this.panFrom) {
      this.panScreen(input.screen.x - this.panFrom.x, input.screen.y - this.panFrom.y);
      this.panFrom = input.screen;
      return this;
    }
    this.tool.onPointerMove(info);
    this.syncPath();
    return this;
  }

  pointerUp(input: PointerInput): this {
    if (this.panFrom) {
      this.panFrom = null;
      this.set({ panning: this.spaceDown });
      return this;
    }
    this.tool.onPointerUp(this.pointerInfo(input));
    this.syncPath();
    return this;
  }

  doubleClick(input: PointerInput): this {
    this.tool.onDoubleClick(this.pointerInfo(input));
    this.syncPath();
    return this;
  }

  pointerLeave(): void {
    this.set({ cursor: null });
  }

  /** Convenience for tests and scripted input: down at a, moves along the way, up at the end. */
  drag(points: readonly Vec[], mods: Omit<PointerInput, 'screen'> = {}): this {
    const [first, ...rest] = points;
    if (!first) return this;
    this.pointerDown({ ...mods, screen: first });
    for (const p of rest) this.pointerMove({ ...mods, screen: p });
    return this.pointerUp({ ...mods, screen: rest.at(-1) ?? first });
  }

  click(p: Vec, mods: Omit<PointerInput, 'screen'> = {}): this {
    return this.drag([p], mods);
  }

  // ---------------------------------------------------------------- keyboard

  /**
   * The current tool state's own keys first (Backspace drops a polyline vertex), then the canvas
   * command table (canvas/commands.ts), which the help overlay lists. True if consumed.
   */
  keyDown(e: KeyInfo): boolean {
    const done = this.tool.onKeyDown(e) || dispatchKey(canvasCommands(), this, e);
    if (done) this.syncPath();
    return done;
  }

  keyUp(e: KeyInfo): void {
    dispatchKeyUp(canvasCommands(), this, e);
  }

  /** Space held: presses pan instead of reaching the tool. */
  holdPan(down: boolean): void {
    this.spaceDown = down;
    this.set({ panning: down || this.panFrom !== null });
  }

  // ---------------------------------------------------------------- viewport

  setContainerSize(size: Size): void {
    this.set({ containerSize: size });
  }

  /** A new frame: prompts stay (they are normalised); masks are resampled to the new size. */
  setImageSize(size: Size): void {
    const old = this.state.imageSize;
    if (old.width === size.width && old.height === size.height) return;
    for (const [id, m] of this.masks) this.masks.set(id, resampleMask(m, size));
    this.set({ imageSize: size });
    for (const id of this.masks.keys()) this.emitMask(id, null);
  }

  fitView(): void {
    this.set({ viewport: fit(this.state.imageSize, this.state.containerSize) });
  }

  setViewport(v: Viewport): void {
    this.set({ viewport: v });
  }

  wheel(screen: Vec, deltaY: number): void {
    this.set({ viewport: zoomAt(this.state.viewport, screen, Math.exp(-deltaY * 0.0015)) });
  }

  panScreen(dx: number, dy: number): void {
    this.set({ viewport: panBy(this.state.viewport, dx, dy) });
  }

  setBrushRadius(r: number): void {
    this.set({ brushRadius: Math.min(MAX_BRUSH, Math.max(MIN_BRUSH, r)) });
  }

  setPreview(p: Preview | null): void {
    this.set({ preview: p });
  }

  toggleHelp(open?: boolean): void {
    this.set({ helpOpen: open ?? !this.state.helpOpen });
  }

  // ---------------------------------------------------------------- history

  mark(label: string): void {
    this.history.mark(label);
  }

  squash(): void {
    this.history.squash();
    this.syncHistory();
  }

  bail(): void {
    this.history.bail();
    this.syncHistory();
  }

  undo(): void {
    this.cancel();
    this.history.undo();
    this.syncHistory();
  }

  redo(): void {
    this.cancel();
    this.history.redo();
    this.syncHistory();
  }

  private syncHistory(): void {
    this.set({ canUndo: this.history.canUndo, canRedo: this.history.canRedo });
  }

  // ---------------------------------------------------------------- shapes (all recorded)

  get shapes(): ShapeBase[] {
    const s = this.state;
    return s.order.map((id) => s.shapes[id]!);
  }

  getShape(id: string): ShapeBase | undefined {
    return this.state.shapes[id];
  }

  /**
   * Whether the model would take the shape as a prompt: its kind's JSON through its kind's
   * validator (the model's own parser for every kind the model knows). Tools check it before
   * they commit, so the canvas never holds what the encoder would reject.
   */
  accepts(shape: ShapeBase): boolean {
    const k = kindOf(shape);
    try {
      k.parse(k.toJson(shape, this.masks.get(shape.id)));
      return true;
    } catch {
      return false;
    }
  }

  /** Adds a shape (or, for masks, a shape plus an empty bitmap) as one recorded change. */
  createShape<S extends ShapeBase>(shape: S, bitmap?: MaskBitmap): S {
    // The bitmap travels with the record through undo/redo so repainting history stays valid.
    let saved = bitmap;
    const add = (): void => {
      if (isMask(shape)) {
        const { width, height } = this.state.imageSize;
        this.masks.set(shape.id, saved ?? emptyMask(width, height));
        this.set({ activeMask: shape.id });
      }
      this.set({
        shapes: { ...this.state.shapes, [shape.id]: shape },
        order: [...this.state.order, shape.id],
      });
      if (isMask(shape)) this.emitMask(shape.id, null);
    };
    const remove = (): void => {
      saved = this.masks.get(shape.id) ?? saved;
      this.removeRaw([shape.id]);
    };
    add();
    this.history.record(`create ${shape.kind}`, { redo: add, undo: remove });
    this.syncHistory();
    return shape;
  }

  updateShape(next: ShapeBase): void {
    const prev = this.state.shapes[next.id];
    if (!prev || prev === next) return;
    const put = (s: ShapeBase) => () => this.set({ shapes: { ...this.state.shapes, [s.id]: s } });
    put(next)();
    this.history.record(`update ${next.kind}`, { redo: put(next), undo: put(prev) });
    this.syncHistory();
  }

  deleteShapes(ids: readonly string[]): void {
    const victims = ids.filter((id) => this.state.shapes[id]);
    if (victims.length === 0) return;
    const before = { shapes: this.state.shapes, order: this.state.order, selected: this.state.selected };
    const bitmaps = new Map(victims.flatMap((id) => (this.masks.has(id) ? [[id, this.masks.get(id)!]] : [])));
    const activeBefore = this.state.activeMask;
    const remove = (): void => this.removeRaw(victims);
    const restore = (): void => {
      for (const [id, m] of bitmaps) this.masks.set(id, m);
      this.set({ ...before, activeMask: activeBefore });
      for (const id of bitmaps.keys()) this.emitMask(id, null);
    };
    remove();
    this.history.record('delete', { redo: remove, undo: restore });
    this.syncHistory();
  }

  private removeRaw(ids: readonly string[]): void {
    const gone = new Set(ids);
    const shapes = { ...this.state.shapes };
    for (const id of ids) delete shapes[id];
    for (const id of ids) {
      if (this.masks.delete(id)) this.emitMask(id, null);
    }
    const order = this.state.order.filter((id) => !gone.has(id));
    const activeMask = gone.has(this.state.activeMask ?? '')
      ? ([...order].reverse().find((id) => isMask(shapes[id])) ?? null)
      : this.state.activeMask;
    this.set({ shapes, order, selected: this.state.selected.filter((id) => !gone.has(id)), activeMask });
  }

  select(ids: readonly string[]): void {
    const mask = [...ids].reverse().find((id) => isMask(this.state.shapes[id]));
    this.set({ selected: [...ids], ...(mask ? { activeMask: mask } : {}) });
  }

  clear(): void {
    this.masks.clear();
    this.history.clear();
    this.set({ shapes: {}, order: [], selected: [], activeMask: null, preview: null });
    this.syncHistory();
  }

  /**
   * Replaces the canvas with another frame's prompts: exactly `records` (masks with their bitmaps)
   * on a frame of `size`, nothing selected, an empty history. The Prompt page keeps one prompt set
   * per frame (CVAT's per-frame annotations), so undo never reaches across frames.
   */
  load(size: Size, records: readonly { readonly shape: ShapeBase; readonly bitmap?: MaskBitmap }[]): void {
    this.cancel();
    const gone = [...this.masks.keys()];
    this.masks.clear();
    for (const id of gone) this.emitMask(id, null);
    const shapes: Record<string, ShapeBase> = {};
    const order: string[] = [];
    let activeMask: string | null = null;
    for (const { shape, bitmap } of records) {
      shapes[shape.id] = shape;
      order.push(shape.id);
      if (isMask(shape)) {
        this.masks.set(shape.id, bitmap ?? emptyMask(size.width, size.height));
        activeMask = shape.id;
      }
    }
    this.history.clear();
    this.set({ shapes, order, selected: [], activeMask, preview: null, imageSize: size });
    for (const id of this.masks.keys()) this.emitMask(id, null);
    this.syncHistory();
  }

  // ---------------------------------------------------------------- masks

  getMask(id: string): MaskBitmap | undefined {
    return this.masks.get(id);
  }

  onMaskChange(fn: MaskListener): () => void {
    this.maskListeners.add(fn);
    return () => this.maskListeners.delete(fn);
  }

  private emitMask(id: string, dirty: Rect | null): void {
    for (const fn of this.maskListeners) fn(id, dirty);
  }

  /**
   * Opens one recorded pixel stroke (undo label `label`) of the active mask, creating an empty
   * mask when there is none; paint with `paintMask`, close with `endMaskStroke` or `abortMaskStroke`.
   */
  beginMaskStroke(label: string): void {
    this.mark(label);
    const active = this.state.activeMask;
    const existed = active !== null && this.masks.has(active);
    const id = existed ? active : this.createShape(newMask()).id;
    const m = this.masks.get(id)!;
    this.maskEdit = { id, before: { ...m, data: m.data.slice() }, dirty: null, existed };
  }

  /** Runs a raster operation on the mask being edited and notifies the view of the dirty rect. */
  paintMask(op: (m: MaskBitmap) => Rect | null): void {
    const e = this.maskEdit;
    const m = e ? this.masks.get(e.id) : undefined;
    if (!e || !m) return;
    const dirty = op(m);
    if (!dirty) return;
    e.dirty = unionRect(e.dirty, dirty);
    this.emitMask(e.id, dirty);
  }

  /**
   * Closes the stroke as one undo entry holding only the touched rectangle, before and after.
   * A mask left without pixels is no prompt (the model rejects an empty mask), so it leaves the
   * canvas in the same entry (undo brings it back with its pixels); a mask the stroke created and
   * left empty (painting off the frame) is taken back without a trace.
   */
  endMaskStroke(): void {
    const e = this.maskEdit;
    this.maskEdit = null;
    const m = e ? this.masks.get(e.id) : undefined;
    const empty = m !== undefined && maskArea(m) === 0;
    if (e && empty && !e.existed) {
      this.bail();
      return;
    }
    if (e && m && e.dirty)
      this.recordPixels(e.id, e.dirty, copyRect(e.before, e.dirty), copyRect(m, e.dirty));
    // After the pixels, so undo puts the mask back before it repaints it.
    if (e && empty) this.deleteShapes([e.id]);
    this.squash();
  }

  /** Abandons the stroke in progress, restoring the pixels it touched. */
  abortMaskStroke(): void {
    const e = this.maskEdit;
    this.maskEdit = null;
    const m = e ? this.masks.get(e.id) : undefined;
    if (e && m && e.dirty) {
      pasteRect(m, e.dirty, copyRect(e.before, e.dirty));
      this.emitMask(e.id, e.dirty);
    }
    this.bail();
  }

  private recordPixels(id: string, rect: Rect, before: Uint8Array, after: Uint8Array): void {
    const write = (pixels: Uint8Array) => (): void => {
      const target = this.masks.get(id);
      if (!target) return;
      pasteRect(target, rect, pixels);
      this.bumpMask(id);
      this.emitMask(id, rect);
    };
    this.bumpMask(id);
    this.history.record('paint', { redo: write(after), undo: write(before) });
    this.syncHistory();
  }

  private bumpMask(id: string): void {
    const s = this.state.shapes[id];
    if (!isMask(s)) return;
    const next: MaskShape = { ...s, rev: s.rev + 1 };
    this.set({ shapes: { ...this.state.shapes, [id]: next } });
  }

  /** Frame-pixel tolerance equal to `px` screen pixels at the current zoom. */
  screenTolerance(px: number): number {
    return px / this.state.viewport.scale;
  }

  kinds(): string[] {
    return this.shapes.map((s) => s.kind);
  }
}

/** Nearest-neighbour resample, used when the frame size changes under existing masks. */
export function resampleMask(m: MaskBitmap, size: Size): MaskBitmap {
  const out = emptyMask(size.width, size.height);
  for (let y = 0; y < size.height; y++) {
    const sy = Math.min(m.height - 1, Math.floor(((y + 0.5) * m.height) / size.height));
    for (let x = 0; x < size.width; x++) {
      const sx = Math.min(m.width - 1, Math.floor(((x + 0.5) * m.width) / size.width));
      out.data[y * size.width + x] = m.data[sy * m.width + sx]!;
    }
  }
  return out;
}
