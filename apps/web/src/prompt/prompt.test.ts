import { describe, expect, it } from 'vitest';
import { Editor } from '../canvas/editor';
import { exportPrompts } from '../canvas/io/prompts';
import { at } from '../canvas/testing';
import { FrameSets, SCRATCH_KEY, STORAGE_KEY, datasetFrameKey, imageKey } from './frames';
import { parsePromptHash, promptHash } from './location';
import { MAX_IMAGE_SIDE, fitSide } from './image';

const SIZE = { width: 200, height: 100 };
const f = (t: number) => datasetFrameKey({ dataset: 'sim', episode: 0, t, camera: 'front' });

function setup(storage: Map<string, string> | null = null) {
  const ed = new Editor(SIZE);
  ed.setViewport({ scale: 2, x: 10, y: 20 });
  const mem = storage && {
    getItem: (k: string) => storage.get(k) ?? null,
    setItem: (k: string, v: string) => void storage.set(k, v),
  };
  return { ed, sets: new FrameSets(ed, mem) };
}

describe('per-frame prompt sets', () => {
  it('each frame keeps its own prompts; nothing carries over', () => {
    const { ed, sets } = setup();
    sets.show(f(0), SIZE);
    ed.setTool('point');
    ed.click(at(0.25, 0.5));
    sets.show(f(1), SIZE);
    expect(ed.shapes).toHaveLength(0);
    expect(ed.state.canUndo).toBe(false);
    ed.setTool('box');
    ed.drag([at(0.1, 0.1), at(0.3, 0.4)]);
    sets.show(SCRATCH_KEY, { width: 640, height: 480 });
    expect(ed.shapes).toHaveLength(0);
    sets.show(imageKey(1, 'a.png'), { width: 300, height: 300 });
    expect(ed.shapes).toHaveLength(0);
    sets.show(f(0), SIZE);
    expect(exportPrompts(ed)).toEqual([{ type: 'point', x: 0.25, y: 0.5, positive: true }]);
    expect(sets.store.getState().counts).toEqual({ [f(1)]: 1 });
  });

  it('masks come back with their pixels at the frame size', () => {
    const { ed, sets } = setup();
    sets.show(f(0), SIZE);
    ed.setTool('brush');
    ed.drag([at(0.5, 0.5), at(0.6, 0.5)]);
    const before = exportPrompts(ed);
    sets.show(SCRATCH_KEY, { width: 64, height: 48 });
    sets.show(f(0), SIZE);
    expect(exportPrompts(ed)).toEqual(before);
    expect(ed.state.imageSize).toEqual(SIZE);
  });

  it('copy to the next frame adds the prompts there as one undo entry', () => {
    const { ed, sets } = setup();
    sets.show(f(1), SIZE);
    ed.setTool('point');
    ed.click(at(0.9, 0.9));
    sets.show(f(0), SIZE);
    ed.click(at(0.25, 0.5));
    expect(sets.copyTo(f(1))).toBe(1);
    sets.show(f(1), SIZE);
    expect(exportPrompts(ed).map((p) => p.type === 'point' && p.x)).toEqual([0.9, 0.25]);
    ed.undo();
    expect(exportPrompts(ed).map((p) => p.type === 'point' && p.x)).toEqual([0.9]);
    sets.show(f(0), SIZE);
    expect(ed.shapes).toHaveLength(1); // the source keeps its own
  });

  it('a copy whose target is never shown still lands there', () => {
    const { ed, sets } = setup();
    sets.show(f(0), SIZE);
    ed.setTool('point');
    ed.click(at(0.25, 0.5));
    sets.copyTo(f(1));
    sets.show(f(5), SIZE);
    expect(sets.stored(f(1))).toHaveLength(1);
  });

  it('dataset and scratch sets survive a reload; opened images do not', () => {
    const storage = new Map<string, string>();
    const first = setup(storage);
    first.sets.show(f(3), SIZE);
    first.ed.setTool('point');
    first.ed.click(at(0.5, 0.5));
    first.sets.show(imageKey(1, 'x.png'), SIZE);
    first.ed.click(at(0.1, 0.1));
    first.sets.flush();
    const second = setup(storage);
    second.sets.show(f(3), SIZE);
    expect(exportPrompts(second.ed)).toEqual([{ type: 'point', x: 0.5, y: 0.5, positive: true }]);
    expect(Object.keys(JSON.parse(storage.get(STORAGE_KEY)!) as object)).toEqual([f(3)]);
  });

  it('a stored set the frame cannot take is reported, and the frame starts empty', () => {
    const storage = new Map([[STORAGE_KEY, JSON.stringify({ [f(0)]: [{ type: 'box', x0: 0.5 }] })]]);
    const { ed, sets } = setup(storage);
    sets.show(f(0), SIZE);
    expect(ed.shapes).toHaveLength(0);
    expect(sets.store.getState().error).toMatch(/could not be loaded: prompt 0/);
  });
});

describe('prompt page deep link', () => {
  it('round-trips dataset, episode, frame and camera', () => {
    const loc = { dataset: 'sim sample/1', episode: 3, frame: 12, camera: 'wrist' };
    expect(parsePromptHash(promptHash(loc))).toEqual(loc);
    expect(parsePromptHash('#/prompt?dataset=d')).toEqual({
      dataset: 'd',
      episode: 0,
      frame: 0,
      camera: null,
    });
  });
  it('names no frame for other pages, no dataset, or bad numbers', () => {
    expect(parsePromptHash('#/runs?dataset=d')).toBeNull();
    expect(parsePromptHash('#/prompt')).toBeNull();
    expect(parsePromptHash('#/prompt?dataset=d&frame=-1&episode=x')).toMatchObject({ frame: 0, episode: 0 });
  });
});

describe('opened images', () => {
  it('fit the server limit on the longer side, keeping the aspect ratio', () => {
    expect(fitSide({ width: 8000, height: 8000 })).toEqual({ width: 2048, height: 2048 });
    expect(fitSide({ width: 4096, height: 3072 })).toEqual({ width: 2048, height: 1536 });
    expect(fitSide({ width: 100, height: 30000 })).toEqual({ width: 7, height: MAX_IMAGE_SIDE });
    expect(fitSide({ width: 640, height: 480 })).toEqual({ width: 640, height: 480 });
  });
});
