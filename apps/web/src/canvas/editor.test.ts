// The tool machines driven headlessly: pointer sequences in, store state and tool paths out.
import { beforeEach, describe, expect, it } from 'vitest';
import { Editor } from './editor';
import { maskArea } from './tools/mask/raster';
import { exportPrompts, importPrompts, PromptJsonError } from './io/prompts';
import type { Shape } from './shapes';

const only = <K extends Shape['kind']>(ed: Editor, kind: K): Extract<Shape, { kind: K }>[] =>
  ed.shapes.filter((s): s is Extract<Shape, { kind: K }> => s.kind === kind);

let ed: Editor;
beforeEach(() => {
  // A 200x100 frame shown at 2x with a pan, so screen, image and normalised coordinates all differ.
  ed = new Editor({ width: 200, height: 100 });
  ed.setViewport({ scale: 2, x: 10, y: 20 });
});
/** Screen position of a normalised coordinate under the test viewport. */
const at = (nx: number, ny: number) => ({ x: 10 + nx * 200 * 2, y: 20 + ny * 100 * 2 });

describe('point tool', () => {
  it('click places a positive point in normalised coordinates; Alt and right click place negatives', () => {
    ed.setTool('point');
    ed.click(at(0.25, 0.5));
    ed.click(at(0.75, 0.5), { alt: true });
    ed.click(at(0.5, 0.1), { button: 2 });
    const pts = only(ed, 'point');
    expect(pts.map((p) => [p.x, p.y, p.positive])).toEqual([
      [0.25, 0.5, true],
      [0.75, 0.5, false],
      [0.5, 0.1, false],
    ]);
    expect(ed.state.path).toBe('point.idle');
  });

  it('dragging while pressed moves the new point and is still one undo entry', () => {
    ed.setTool('point');
    ed.drag([at(0.1, 0.1), at(0.2, 0.2), at(0.3, 0.4)]);
    expect(only(ed, 'point')[0]).toMatchObject({ x: 0.3, y: 0.4 });
    ed.undo();
    expect(ed.shapes).toHaveLength(0);
    ed.redo();
    expect(only(ed, 'point')[0]).toMatchObject({ x: 0.3, y: 0.4 });
  });

  it('Escape mid-press bails: no point, no history', () => {
    ed.setTool('negative');
    ed.pointerDown({ screen: at(0.5, 0.5) });
    expect(ed.state.path).toBe('negative.pointing');
    ed.keyDown({ key: 'Escape', alt: false, shift: false, ctrl: false });
    expect(ed.state.path).toBe('negative.idle');
    expect(ed.shapes).toHaveLength(0);
    expect(ed.state.canUndo).toBe(false);
  });
});

describe('box tool', () => {
  it('idle -> pointing -> creating -> idle, corners normalised whatever the drag direction', () => {
    ed.setTool('box');
    ed.pointerDown({ screen: at(0.8, 0.9) });
    expect(ed.state.path).toBe('box.pointing');
    ed.pointerMove({ screen: at(0.5, 0.5) });
    expect(ed.state.path).toBe('box.creating');
    ed.pointerMove({ screen: at(0.2, 0.3) });
    ed.pointerUp({ screen: at(0.2, 0.3) });
    expect(ed.state.path).toBe('box.idle');
    const [b] = only(ed, 'box');
    expect([b!.x0, b!.y0, b!.x1, b!.y1].map((v) => +v.toFixed(6))).toEqual([0.2, 0.3, 0.8, 0.9]);
    expect(ed.history.labels.undo).toEqual(['box']);
  });

  it('a click without a drag creates nothing; coordinates clamp to the frame', () => {
    ed.setTool('box');
    ed.click(at(0.5, 0.5));
    expect(ed.shapes).toHaveLength(0);
    ed.drag([at(0.5, 0.5), at(1.4, -0.3)]);
    expect(only(ed, 'box')[0]).toMatchObject({ x0: 0.5, y0: 0, x1: 1, y1: 0.5 });
  });
});

describe('line tool', () => {
  it('press-drag-release draws a straight line', () => {
    ed.setTool('line');
    ed.drag([at(0.1, 0.1), at(0.3, 0.3), at(0.6, 0.2)]);
    expect(only(ed, 'line')[0]!.points).toEqual([
      { x: 0.1, y: 0.1 },
      { x: 0.6, y: 0.2 },
    ]);
  });

  it('clicks build a polyline that Enter finishes; Backspace removes the last vertex; one undo entry', () => {
    ed.setTool('line');
    ed.click(at(0.1, 0.1)).click(at(0.2, 0.5)).click(at(0.9, 0.9)).click(at(0.4, 0.4));
    expect(ed.state.path).toBe('line.drawing');
    expect(ed.keyDown({ key: 'Backspace', alt: false, shift: false, ctrl: false })).toBe(true);
    ed.keyDown({ key: 'Enter', alt: false, shift: false, ctrl: false });
    expect(ed.state.path).toBe('line.idle');
    expect(only(ed, 'line')[0]!.points).toHaveLength(3);
    ed.undo();
    expect(ed.shapes).toHaveLength(0);
  });

  it('double-click finishes without adding a duplicate vertex; Escape abandons', () => {
    ed.setTool('line');
    ed.click(at(0.1, 0.1)).click(at(0.5, 0.5)).click(at(0.5, 0.5));
    ed.doubleClick({ screen: at(0.5, 0.5) });
    expect(only(ed, 'line')[0]!.points).toHaveLength(2);
    ed.click(at(0.2, 0.2)).click(at(0.3, 0.3));
    ed.keyDown({ key: 'Escape', alt: false, shift: false, ctrl: false });
    expect(only(ed, 'line')).toHaveLength(1);
    expect(ed.state.preview).toBeNull();
  });
});

describe('mask brush, eraser and polygon', () => {
  it('a stroke paints a round-capped band into a new mask, one undo entry per stroke', () => {
    ed.setTool('brush');
    ed.setBrushRadius(5);
    ed.drag([at(0.1, 0.5), at(0.3, 0.5), at(0.5, 0.5)]);
    const id = ed.state.activeMask!;
    const m = ed.getMask(id)!;
    // A 10 px wide band 80 px long plus two half discs of radius 5.
    expect(maskArea(m)).toBeGreaterThan(10 * 80);
    expect(maskArea(m)).toBeLessThan(10 * 80 + Math.PI * 25 + 40);
    ed.drag([at(0.1, 0.2), at(0.5, 0.2)]);
    const two = maskArea(m);
    ed.undo();
    expect(maskArea(ed.getMask(id)!)).toBeLessThan(two);
    ed.undo();
    expect(ed.shapes).toHaveLength(0);
    ed.redo();
    ed.redo();
    expect(maskArea(ed.getMask(id)!)).toBe(two);
  });

  it('the eraser removes pixels and undo restores exactly the erased ones', () => {
    ed.setTool('brush');
    ed.setBrushRadius(10);
    ed.drag([at(0.2, 0.5), at(0.8, 0.5)]);
    const id = ed.state.activeMask!;
    const before = ed.getMask(id)!.data.slice();
    ed.setTool('eraser');
    ed.setBrushRadius(4);
    ed.drag([at(0.5, 0.2), at(0.5, 0.8)]);
    expect(maskArea(ed.getMask(id)!)).toBeLessThan(maskArea({ width: 200, height: 100, data: before }));
    ed.undo();
    expect(Buffer.compare(ed.getMask(id)!.data, before)).toBe(0);
  });

  it('Alt with the brush erases; the eraser with no mask does nothing', () => {
    ed.setTool('eraser');
    ed.drag([at(0.1, 0.1), at(0.9, 0.9)]);
    expect(ed.shapes).toHaveLength(0);
    ed.setTool('brush');
    ed.drag([at(0.2, 0.5), at(0.8, 0.5)]);
    const id = ed.state.activeMask!;
    const full = maskArea(ed.getMask(id)!);
    ed.drag([at(0.5, 0.2), at(0.5, 0.8)], { alt: true });
    expect(maskArea(ed.getMask(id)!)).toBeLessThan(full);
  });

  it('Escape mid-stroke restores the pixels and leaves no history', () => {
    ed.setTool('brush');
    ed.pointerDown({ screen: at(0.5, 0.5) });
    ed.pointerMove({ screen: at(0.7, 0.5) });
    expect(maskArea(ed.getMask(ed.state.activeMask!)!)).toBeGreaterThan(0);
    ed.cancel();
    expect(ed.shapes).toHaveLength(0);
    expect(ed.state.canUndo).toBe(false);
  });

  it('a closed polygon fills the mask; clicking the first vertex closes it', () => {
    ed.setTool('polygon');
    ed.click(at(0.1, 0.1)).click(at(0.6, 0.1)).click(at(0.6, 0.6)).click(at(0.1, 0.6));
    expect(ed.state.path).toBe('polygon.drawing');
    ed.click(at(0.1, 0.1));
    expect(ed.state.path).toBe('polygon.idle');
    const m = ed.getMask(ed.state.activeMask!)!;
    // 0.5 x 0.5 of a 200x100 frame = 100 x 50 px.
    expect(maskArea(m)).toBe(100 * 50);
    expect(ed.history.labels.undo).toEqual(['polygon']);
  });
});

describe('select tool', () => {
  beforeEach(() => {
    ed.setTool('box');
    ed.drag([at(0.2, 0.2), at(0.4, 0.6)]);
    ed.setTool('point');
    ed.click(at(0.8, 0.5));
    ed.setTool('select');
  });

  it('dragging a shape moves it as one undo entry; Escape mid-drag puts it back', () => {
    ed.drag([at(0.3, 0.4), at(0.35, 0.45), at(0.4, 0.5)]);
    const [b] = only(ed, 'box');
    expect(b!.x0).toBeCloseTo(0.3);
    expect(b!.y1).toBeCloseTo(0.7);
    expect(ed.history.labels.undo.at(-1)).toBe('move');
    ed.pointerDown({ screen: at(0.4, 0.5) });
    ed.pointerMove({ screen: at(0.6, 0.5) });
    expect(ed.state.path).toBe('select.translating');
    ed.cancel();
    expect(only(ed, 'box')[0]!.x0).toBeCloseTo(0.3);
    ed.undo();
    expect(only(ed, 'box')[0]!.x0).toBeCloseTo(0.2);
  });

  it('dragging a corner handle reshapes the box', () => {
    ed.click(at(0.3, 0.3));
    expect(ed.state.selected).toHaveLength(1);
    ed.drag([at(0.4, 0.6), at(0.5, 0.9)]);
    expect(only(ed, 'box')[0]).toMatchObject({ x0: 0.2, y0: 0.2 });
    expect(only(ed, 'box')[0]!.x1).toBeCloseTo(0.5);
    expect(only(ed, 'box')[0]!.y1).toBeCloseTo(0.9);
  });

  it('a marquee selects, Delete deletes, undo restores', () => {
    ed.drag([at(0.01, 0.01), at(0.99, 0.99)]);
    expect(ed.state.selected).toHaveLength(2);
    ed.keyDown({ key: 'Delete', alt: false, shift: false, ctrl: false });
    expect(ed.shapes).toHaveLength(0);
    ed.keyDown({ key: 'z', alt: false, shift: false, ctrl: true });
    expect(ed.kinds()).toEqual(['box', 'point']);
    ed.keyDown({ key: 'Z', alt: false, shift: true, ctrl: true });
    expect(ed.shapes).toHaveLength(0);
    ed.keyDown({ key: 'z', alt: false, shift: false, ctrl: true });
    ed.keyDown({ key: 'y', alt: false, shift: false, ctrl: true });
    expect(ed.shapes).toHaveLength(0);
  });
});

describe('navigation and shortcuts', () => {
  it('tool keys from the TOOLS table switch tools; Space-drag pans without changing tool', () => {
    ed.keyDown({ key: 'b', alt: false, shift: false, ctrl: false });
    expect(ed.state.tool).toBe('box');
    ed.keyDown({ key: ' ', alt: false, shift: false, ctrl: false });
    ed.drag([
      { x: 100, y: 100 },
      { x: 130, y: 90 },
    ]);
    ed.keyUp({ key: ' ', alt: false, shift: false, ctrl: false });
    expect(ed.state.viewport).toEqual({ scale: 2, x: 40, y: 10 });
    expect(ed.shapes).toHaveLength(0);
    expect(ed.state.tool).toBe('box');
  });

  it('prompts keep their normalised place when the view is zoomed', () => {
    ed.wheel({ x: 50, y: 50 }, -300);
    ed.setTool('point');
    const v = ed.state.viewport;
    ed.click({ x: v.x + 0.3 * 200 * v.scale, y: v.y + 0.6 * 100 * v.scale });
    const [p] = only(ed, 'point');
    expect(p!.x).toBeCloseTo(0.3, 9);
    expect(p!.y).toBeCloseTo(0.6, 9);
  });
});

describe('JSON export / import', () => {
  it('round-trips every prompt kind, masks through COCO RLE', () => {
    ed.setTool('point');
    ed.click(at(0.25, 0.5), { alt: true });
    ed.setTool('box');
    ed.drag([at(0.1, 0.1), at(0.3, 0.4)]);
    ed.setTool('line');
    ed.drag([at(0.5, 0.5), at(0.9, 0.7)]);
    ed.setTool('brush');
    ed.drag([at(0.6, 0.2), at(0.7, 0.3)]);
    const json = JSON.parse(JSON.stringify(exportPrompts(ed)));
    expect(json.map((p: { type: string }) => p.type)).toEqual(['point', 'box', 'line', 'mask']);
    const other = new Editor({ width: 200, height: 100 });
    expect(importPrompts(other, json)).toBe(4);
    expect(exportPrompts(other)).toEqual(json);
    other.undo();
    expect(other.shapes).toHaveLength(0);
  });

  it('rejects malformed prompts with a typed error and adds nothing', () => {
    expect(() => importPrompts(ed, [{ type: 'point', x: 2, y: 0 }])).toThrow(PromptJsonError);
    expect(() => importPrompts(ed, [{ type: 'line', points: [[0, 0]] }])).toThrow(/at least 2/);
    expect(() => importPrompts(ed, { type: 'box' })).toThrow(/array/);
    expect(ed.shapes).toHaveLength(0);
  });
});
