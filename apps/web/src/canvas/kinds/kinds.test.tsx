// Every registered kind answers for itself: geometry, hit-test, list entry, JSON and drawing,
// checked on one sample prompt per kind through the real editor. A kind the model knows but the
// canvas lacks, or a registered kind without a sample here, fails the first test.
import { isValidElement } from 'react';
import { describe, expect, it } from 'vitest';
import { TOKENS_PER_PROMPT, decodeRle, encodeRle } from '@pixelvla/model';
import { Editor } from '../editor';
import { type Vec, normToScreen } from '../geometry';
import { emptyMask, fillPolygon } from '../raster';
import { exportPrompts, importPrompts } from '../io/prompts';
import { hitTest } from '../tools/select/hitTest';
import { kindOf, kinds } from '.';

const frame = { width: 40, height: 30 };

function blob(): unknown {
  const m = emptyMask(frame.width, frame.height);
  fillPolygon(
    m,
    [
      { x: 24, y: 4 },
      { x: 36, y: 8 },
      { x: 30, y: 20 },
    ],
    1,
  );
  return { type: 'mask', rle: encodeRle(m) };
}

/** One prompt per kind, and a normalised spot well away from it (a press there misses). */
const SAMPLES: Record<string, { json: unknown; miss: Vec }> = {
  point: { json: { type: 'point', x: 0.3, y: 0.4, positive: false }, miss: { x: 0.9, y: 0.9 } },
  line: {
    json: {
      type: 'line',
      points: [
        [0.1, 0.2],
        [0.5, 0.5],
        [0.8, 0.3],
      ],
    },
    miss: { x: 0.1, y: 0.9 },
  },
  box: { json: { type: 'box', x0: 0.2, y0: 0.3, x1: 0.6, y1: 0.7 }, miss: { x: 0.9, y: 0.1 } },
  mask: { json: blob(), miss: { x: 0.1, y: 0.9 } },
};

/** The sample on a fresh editor (identity view scaled 10x, so picking tolerances are small). */
function withSample(kind: string) {
  const ed = new Editor(frame);
  ed.setViewport({ scale: 10, x: 0, y: 0 });
  importPrompts(ed, [SAMPLES[kind]!.json]);
  const shape = ed.shapes[0]!;
  return { ed, shape, util: kindOf(shape), toScreen: (p: Vec) => normToScreen(ed.state.viewport, frame, p) };
}

/** A normalised spot on the shape: its anchor, or the centre of one of its mask pixels. */
function onShape(ed: Editor, id: string, anchor: Vec | null): Vec {
  if (anchor) return anchor;
  const m = ed.getMask(id)!;
  const i = m.data.indexOf(1);
  return { x: ((i % m.width) + 0.5) / m.width, y: (Math.floor(i / m.width) + 0.5) / m.height };
}

const inFrame = (p: Vec): boolean => p.x >= 0 && p.x <= 1 && p.y >= 0 && p.y <= 1;

describe('the kinds registry', () => {
  it('has a kind for every prompt type the model knows, and a sample here for every kind', () => {
    const registered = kinds().map((k) => k.kind);
    expect(registered).toEqual(expect.arrayContaining(Object.keys(TOKENS_PER_PROMPT)));
    expect(Object.keys(SAMPLES).sort()).toEqual([...registered].sort());
  });

  describe.each(kinds().map((k) => k.kind))('%s', (kind) => {
    it('JSON: the model-validated sample comes back out unchanged, and what it exports passes the model', () => {
      const { ed, shape, util } = withSample(kind);
      expect(shape.kind).toBe(kind);
      const parsed = util.parse(SAMPLES[kind]!.json);
      const out = util.toJson(shape, ed.getMask(shape.id));
      expect(out).not.toBeNull();
      expect(util.parse(out)).toEqual(parsed);
      expect(exportPrompts(ed)).toEqual([out]);
      if (kind === 'mask')
        expect(decodeRle((out as unknown as { rle: unknown }).rle)).toEqual(ed.getMask(shape.id));
    });

    it('list entry: a label, a swatch colour and a detail', () => {
      const { shape, util } = withSample(kind);
      const e = util.entry(shape);
      expect(e.label).toMatch(new RegExp(`^${kind === 'line' ? '(poly)?line' : kind}`));
      expect(e.color).toMatch(/^#[0-9a-f]{6}$/i);
      expect(typeof e.detail).toBe('string');
    });

    it('geometry: handles inside the frame, a handle dropped in place and a zero move change nothing, a large move stays valid', () => {
      const { ed, shape, util } = withSample(kind);
      const hs = util.handles(shape);
      expect(hs.every(inFrame)).toBe(true);
      hs.forEach((h, i) => expect(util.withHandle(shape, i, h)).toEqual(shape));
      expect(util.translated(shape, 0, 0)).toEqual(shape);
      const far = util.translated(shape, 3, -3);
      expect(util.handles(far).every(inFrame)).toBe(true);
      expect(ed.accepts(far)).toBe(true);
      const a = util.anchor(shape);
      if (a) expect(inFrame(a)).toBe(true);
    });

    it('hit-test: a press on the shape picks it, a press well away does not', () => {
      const { ed, shape, util, toScreen } = withSample(kind);
      expect(hitTest(ed, toScreen(onShape(ed, shape.id, util.anchor(shape))))).toEqual({ id: shape.id });
      expect(hitTest(ed, toScreen(SAMPLES[kind]!.miss))).toBeNull();
      // The marquee over the whole frame takes every vector prompt (masks are picked by pressing on them).
      expect(util.meets(shape, { x0: 0, y0: 0, x1: 1, y1: 1 })).toBe(!util.Layer);
    });

    it('drawing: a react-konva node per shape, or a layer of its own', () => {
      const { shape, util, toScreen } = withSample(kind);
      if (util.Layer) expect(typeof util.Layer).toBe('function');
      else expect(isValidElement(util.node(shape, { toScreen, selected: true }))).toBe(true);
    });
  });
});
