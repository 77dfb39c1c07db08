// Adding a prompt kind is one folder: this file holds, as one module, everything an "ellipse"
// folder (kinds/ellipse/) would, registers it, and shows that the toolbar, the shortcuts, the
// help, the cursor, drawing, the prompt list, picking, the select tool and JSON all take it with
// no edit anywhere else. (A real kind also adds its type to the model's parser; the validator
// below stands in for that part.)
import { renderToStaticMarkup } from 'react-dom/server';
import { Ellipse } from 'react-konva';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PromptError } from '@pixelvla/model';
import { Editor } from '../editor';
import { at, testEditor } from '../testing';
import { type Vec, insideBox, normToScreen, shiftWithin } from '../geometry';
import { type ShapeBase, newId } from '../shapes';
import { exportPrompts, importPrompts } from '../io/prompts';
import { type DragStart, type PointerInfo, type ToolSpec, idle, pressing } from '../tools/StateNode';
import { ShapeGesture } from '../tools/ShapeGesture';
import { hitTest } from '../tools/select/hitTest';
import { cursorCss, toolSpec, toolSpecs } from '../tools';
import { PromptRows } from '../view/PromptList';
import { helpFor } from '../view/Toolbar';
import { EDGE_PX, type ShapeUtil, kinds, registerKind } from '.';

// ---------------------------------------------------------------- the kinds/ellipse/ module

interface EllipseShape extends ShapeBase {
  readonly kind: 'ellipse';
  readonly cx: number;
  readonly cy: number;
  readonly rx: number;
  readonly ry: number;
}

interface EllipseJson {
  readonly type: 'ellipse';
  readonly cx: number;
  readonly cy: number;
  readonly rx: number;
  readonly ry: number;
}

/** Stands in for the model package's parser, which a real kind extends. */
function parseEllipse(json: unknown): EllipseJson {
  if (typeof json !== 'object' || json === null) throw new PromptError('an ellipse prompt must be an object');
  const o = json as Record<string, unknown>;
  if (Object.keys(o).sort().join() !== 'cx,cy,rx,ry,type')
    throw new PromptError('ellipse needs exactly cx, cy, rx, ry');
  const num = (k: string): number => {
    const v = o[k];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new PromptError(`ellipse ${k} must be in [0, 1]`);
    return v;
  };
  const e = { type: 'ellipse' as const, cx: num('cx'), cy: num('cy'), rx: num('rx'), ry: num('ry') };
  if (!(e.rx > 0 && e.ry > 0)) throw new PromptError('ellipse radii must be positive');
  return e;
}

const spanned = (a: Vec, b: Vec) => ({
  cx: (a.x + b.x) / 2,
  cy: (a.y + b.y) / 2,
  rx: Math.abs(b.x - a.x) / 2,
  ry: Math.abs(b.y - a.y) / 2,
});

class Creating extends ShapeGesture<EllipseShape> {
  readonly id = 'creating';
  protected readonly kind = 'ellipse';
  private origin: Vec = { x: 0, y: 0 };
  override onEnter(info?: unknown): void {
    const { start, e } = info as DragStart;
    this.origin = start.norm;
    this.create('ellipse', { id: newId('ellipse'), kind: 'ellipse', ...spanned(this.origin, e.norm) });
  }
  protected reshape(s: EllipseShape, e: PointerInfo): EllipseShape {
    return { ...s, ...spanned(this.origin, e.norm) };
  }
}

const ELLIPSE_TOOL: ToolSpec = {
  id: 'ellipse',
  label: 'Ellipse',
  key: 'o',
  icon: 'M12 6a8 6 0 100 12 8 6 0 000-12z',
  hint: 'Drag an ellipse around the target',
  group: 'prompt',
  cursor: 'crosshair',
  states: [idle('pointing'), pressing('pointing', 'creating'), Creating],
};

/** The ellipse's outline radii in screen px. */
const screenRadii = (s: EllipseShape, toScreen: (p: Vec) => Vec) => {
  const c = toScreen({ x: s.cx, y: s.cy });
  const e = toScreen({ x: s.cx + s.rx, y: s.cy + s.ry });
  return { c, rx: e.x - c.x, ry: e.y - c.y };
};

const ellipseKind: ShapeUtil<EllipseShape, EllipseJson> = {
  kind: 'ellipse',
  tools: [ELLIPSE_TOOL],
  handles: (s) => [
    { x: s.cx + s.rx, y: s.cy },
    { x: s.cx, y: s.cy + s.ry },
  ],
  withHandle: (s, i, p) =>
    i === 0 ? { ...s, rx: Math.abs(p.x - s.cx) } : { ...s, ry: Math.abs(p.y - s.cy) },
  translated: (s, dx, dy) => ({
    ...s,
    cx: s.cx + shiftWithin(dx, s.cx - s.rx, s.cx + s.rx),
    cy: s.cy + shiftWithin(dy, s.cy - s.ry, s.cy + s.ry),
  }),
  hits: (s, p, { toScreen }) => {
    const { c, rx, ry } = screenRadii(s, toScreen);
    return ((p.x - c.x) / (rx + EDGE_PX)) ** 2 + ((p.y - c.y) / (ry + EDGE_PX)) ** 2 <= 1;
  },
  meets: (s, r) => insideBox({ x: s.cx, y: s.cy }, r),
  anchor: (s) => ({ x: s.cx, y: s.cy }),
  entry: (s) => ({
    label: 'ellipse',
    color: '#c08bff',
    detail: `${(2 * s.rx).toFixed(2)}×${(2 * s.ry).toFixed(2)}`,
  }),
  toJson: (s) => ({ type: 'ellipse', cx: s.cx, cy: s.cy, rx: s.rx, ry: s.ry }),
  parse: parseEllipse,
  fromPrompt: (p) => ({
    shape: { id: newId('ellipse'), kind: 'ellipse', cx: p.cx, cy: p.cy, rx: p.rx, ry: p.ry },
  }),
  node: (s, { toScreen, selected }) => {
    const { c, rx, ry } = screenRadii(s, toScreen);
    return (
      <Ellipse x={c.x} y={c.y} radiusX={rx} radiusY={ry} stroke="#c08bff" strokeWidth={selected ? 2.5 : 2} />
    );
  },
};

// ---------------------------------------------------------------- the proof

let unregister: () => void;
let ed: Editor;
beforeEach(() => {
  unregister = registerKind(ellipseKind);
  ed = testEditor();
});
afterEach(() => unregister());
const toScreen = (p: Vec) => normToScreen(ed.state.viewport, ed.state.imageSize, p);
const draw = () => {
  ed.setTool('ellipse');
  ed.drag([at(0.2, 0.2), at(0.4, 0.4), at(0.6, 0.8)]);
  return ed.shapes[0] as EllipseShape;
};

describe('a kind registered from one module', () => {
  it('joins the toolbar, the shortcuts, the help and the cursor table', () => {
    expect(toolSpecs().map((t) => t.id)).toContain('ellipse');
    expect(helpFor().map((r) => [r.keys, r.label])).toContainEqual(['O', 'Ellipse']);
    expect(ed.keyDown({ key: 'o', alt: false, shift: false, ctrl: false })).toBe(true);
    expect(ed.state.tool).toBe('ellipse');
    expect(cursorCss(toolSpec('ellipse'), false)).toBe('crosshair');
  });

  it('draws as one undo entry, renders in the prompt list and as its node, and hit-tests', () => {
    const s = draw();
    expect(ed.kinds()).toEqual(['ellipse']);
    expect(ed.history.labels.undo).toEqual(['ellipse']);
    expect(ed.state.path).toBe('ellipse.idle');
    expect(ed.state.selected).toEqual([s.id]);

    const html = renderToStaticMarkup(
      <PromptRows shapes={ed.shapes} selected={[]} onSelect={() => {}} onDelete={() => {}} />,
    );
    expect(html).toContain('data-kind="ellipse"');
    expect(html).toContain('<span>ellipse</span>');
    expect(html).toContain('0.40×0.60');

    const node = ellipseKind.node(s, { toScreen, selected: false });
    expect(node.type).toBe(Ellipse);
    expect(node.props).toMatchObject({ x: at(0.4, 0.5).x, y: at(0.4, 0.5).y, radiusX: 80, radiusY: 60 });

    expect(hitTest(ed, at(0.4, 0.5))).toEqual({ id: s.id });
    expect(hitTest(ed, at(0.9, 0.1))).toBeNull();
  });

  it('the select tool moves it and drags its handles', () => {
    const s = draw();
    ed.setTool('select');
    ed.drag([at(0.4, 0.5), at(0.45, 0.5), at(0.5, 0.5)]);
    expect((ed.getShape(s.id) as EllipseShape).cx).toBeCloseTo(0.5);
    // Handle 0 sits at (cx + rx, cy).
    ed.drag([at(0.7, 0.5), at(0.8, 0.5)]);
    expect((ed.getShape(s.id) as EllipseShape).rx).toBeCloseTo(0.3);
    expect(ed.history.labels.undo).toEqual(['ellipse', 'move', 'vertex']);
  });

  it('round-trips through JSON, and its validator guards the import', () => {
    draw();
    const json = JSON.parse(JSON.stringify(exportPrompts(ed))) as unknown[];
    expect(json).toEqual([
      { type: 'ellipse', cx: 0.4, cy: 0.5, rx: expect.closeTo(0.2, 9), ry: expect.closeTo(0.3, 9) },
    ]);
    const other = new Editor({ width: 200, height: 100 });
    expect(importPrompts(other, json)).toBe(1);
    expect(exportPrompts(other)).toEqual(json);
    expect(() => importPrompts(other, [{ type: 'ellipse', cx: 0.5, cy: 0.5, rx: 0, ry: 0.1 }])).toThrow(
      PromptError,
    );
    expect(other.shapes).toHaveLength(1);
  });

  it('leaves with nothing behind: once removed, an ellipse is an unknown type, as the model says', () => {
    unregister();
    expect(kinds().map((k) => k.kind)).not.toContain('ellipse');
    expect(toolSpecs().map((t) => t.id)).not.toContain('ellipse');
    expect(() => importPrompts(ed, [{ type: 'ellipse', cx: 0.5, cy: 0.5, rx: 0.1, ry: 0.1 }])).toThrow(
      /unknown prompt type/,
    );
  });
});
