// The box tool never leaves a box the model rejects (x1 > x0 and y1 > y0).
import { beforeEach, describe, expect, it } from 'vitest';
import type { Editor } from '../../editor';
import { at, testEditor } from '../../testing';
import { exportPrompts } from '../../io/prompts';

let ed: Editor;
beforeEach(() => {
  ed = testEditor();
});

describe('box tool and the model', () => {
  it('a drag along one axis (no area) creates nothing and leaves no undo entry', () => {
    ed.setTool('box');
    ed.drag([at(0.3, 0.2), at(0.3, 0.5), at(0.3, 0.8)]);
    ed.drag([at(0.1, 0.4), at(0.7, 0.4)]);
    expect(ed.shapes).toHaveLength(0);
    expect(ed.state.canUndo).toBe(false);
    expect(ed.state.path).toBe('box.idle');
  });

  it('a corner dropped on the opposite edge is put back on release', () => {
    ed.setTool('box');
    ed.drag([at(0.2, 0.2), at(0.4, 0.6)]);
    const before = exportPrompts(ed);
    ed.setTool('select');
    // Corner (x1, y1) dragged straight left onto x0: the box would have no width.
    ed.drag([at(0.4, 0.6), at(0.3, 0.6), at(0.2, 0.6)]);
    expect(exportPrompts(ed)).toEqual(before);
    expect(ed.history.labels.undo).toEqual(['box']);
    // A drag that keeps an area is a vertex edit as before.
    ed.drag([at(0.4, 0.6), at(0.5, 0.7)]);
    expect(ed.history.labels.undo).toEqual(['box', 'vertex']);
  });
});
