// A mask with no pixels is no prompt (the model rejects it and the encode would fail), so the
// canvas never keeps one: erasing the last pixel removes the mask in the same undo entry.
import { beforeEach, describe, expect, it } from 'vitest';
import { parsePrompts } from '@pixelvla/model';
import type { Editor } from '../../editor';
import { at, testEditor } from '../../testing';
import { maskArea } from '../../raster';
import { exportPrompts } from '../../io/prompts';

let ed: Editor;
beforeEach(() => {
  ed = testEditor();
});

describe('an emptied mask leaves the prompt list', () => {
  it('erasing every pixel removes the mask in the erase stroke; undo brings it back with its pixels', () => {
    ed.setTool('point');
    ed.click(at(0.1, 0.1));
    ed.setTool('brush');
    ed.setBrushRadius(5);
    ed.drag([at(0.4, 0.5), at(0.6, 0.5)]);
    const id = ed.state.activeMask!;
    const painted = ed.getMask(id)!.data.slice();
    expect(ed.kinds()).toEqual(['point', 'mask']);

    ed.setTool('eraser');
    ed.setBrushRadius(20);
    ed.drag([at(0.4, 0.5), at(0.6, 0.5)]);
    expect(ed.kinds()).toEqual(['point']);
    expect(ed.state.activeMask).toBeNull();
    // What the encoder is sent is what the model accepts.
    expect(parsePrompts(exportPrompts(ed)).map((p) => p.type)).toEqual(['point']);
    expect(ed.history.labels.undo).toEqual(['point', 'paint', 'erase']);

    ed.undo();
    expect(ed.kinds()).toEqual(['point', 'mask']);
    expect(Buffer.compare(ed.getMask(id)!.data, painted)).toBe(0);
    expect(ed.state.activeMask).toBe(id);
    ed.redo();
    expect(ed.kinds()).toEqual(['point']);
  });

  it('a brush stroke that paints nothing (all off the frame) leaves no mask and no undo entry', () => {
    ed.setTool('brush');
    ed.setBrushRadius(3);
    ed.drag([
      { x: 500, y: 300 },
      { x: 600, y: 320 },
    ]);
    expect(ed.shapes).toHaveLength(0);
    expect(ed.state.canUndo).toBe(false);
  });

  it('an Alt polygon that subtracts the whole mask removes it as one entry', () => {
    ed.setTool('brush');
    ed.setBrushRadius(4);
    ed.drag([at(0.3, 0.5), at(0.5, 0.5)]);
    expect(maskArea(ed.getMask(ed.state.activeMask!)!)).toBeGreaterThan(0);
    ed.setTool('polygon');
    ed.click(at(0.1, 0.1)).click(at(0.9, 0.1)).click(at(0.9, 0.9)).click(at(0.1, 0.9));
    ed.doubleClick({ screen: at(0.1, 0.9), alt: true });
    expect(ed.shapes).toHaveLength(0);
    expect(ed.history.labels.undo).toEqual(['paint', 'polygon']);
    ed.undo();
    expect(ed.kinds()).toEqual(['mask']);
  });
});
