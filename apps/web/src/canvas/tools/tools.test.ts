// The TOOLS table declares each tool's states and cursor; every tool rests in the shared Idle and
// any gesture, cancelled, puts it back there without a trace in the prompts or the history.
import { describe, expect, it } from 'vitest';
import { Editor } from '../editor';
import { Idle, ToolNode } from './StateNode';
import { cursorCss, toolSpecs } from '.';

describe('the TOOLS table', () => {
  it.each(toolSpecs().map((t) => t.id))('%s rests in the shared Idle state', (id) => {
    const spec = toolSpecs().find((t) => t.id === id)!;
    const node = new ToolNode(new Editor(), spec);
    expect(node.current).toBeInstanceOf(Idle);
    expect(node.path).toBe(`${id}.idle`);
  });

  it.each(toolSpecs().map((t) => t.id))('%s: Escape mid-gesture returns to rest and leaves nothing', (id) => {
    const ed = new Editor({ width: 100, height: 100 });
    ed.setTool(id);
    // A press and a drag, cancelled: nothing drawn, nothing to undo.
    ed.pointerDown({ screen: { x: 20, y: 20 } });
    ed.pointerMove({ screen: { x: 60, y: 70 } });
    ed.keyDown({ key: 'Escape', alt: false, shift: false, ctrl: false });
    expect(ed.state.path).toBe(`${id}.idle`);
    expect(ed.shapes).toHaveLength(0);
    expect(ed.state.canUndo).toBe(false);
    // Clicks (which build polylines and polygons) and a move, cancelled: back at rest, no preview.
    ed.click({ x: 20, y: 20 }).click({ x: 70, y: 20 });
    ed.pointerMove({ screen: { x: 60, y: 70 } });
    ed.keyDown({ key: 'Escape', alt: false, shift: false, ctrl: false });
    expect(ed.state.path).toBe(`${id}.idle`);
    expect(ed.state.preview).toBeNull();
  });

  it('the canvas cursor is the tool row’s: a CSS cursor or a brush outline (none), grab while panning', () => {
    const byId = Object.fromEntries(toolSpecs().map((t) => [t.id, cursorCss(t, false)]));
    expect(byId).toEqual({
      select: 'default',
      hand: 'grab',
      point: 'crosshair',
      negative: 'crosshair',
      line: 'crosshair',
      box: 'crosshair',
      brush: 'none',
      eraser: 'none',
      polygon: 'crosshair',
    });
    for (const t of toolSpecs()) expect(cursorCss(t, true)).toBe('grab');
  });
});
