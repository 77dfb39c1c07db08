import { describe, expect, it } from 'vitest';
import { testEditor } from '../../testing';

describe('line tool and the model', () => {
  it('a drag clamped to one spot of the frame (zero length) creates no line', () => {
    const ed = testEditor();
    ed.setTool('line');
    // Both ends left of and above the frame: both clamp to its corner (0, 0).
    ed.drag([
      { x: 0, y: 0 },
      { x: -40, y: -30 },
    ]);
    expect(ed.shapes).toHaveLength(0);
    expect(ed.state.canUndo).toBe(false);
    ed.drag([
      { x: 0, y: 0 },
      { x: 200, y: 120 },
    ]);
    expect(ed.kinds()).toEqual(['line']);
  });
});
