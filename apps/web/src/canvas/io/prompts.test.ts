// The canvas and the model accept the same prompt JSON: random lists (seeded) go through the
// canvas import and through @pixelvla/model's parsePrompts, the parser the encoder worker and the
// server's twin use. No property-test library is installed; a small seeded generator stands in.
import { describe, expect, it } from 'vitest';
import {
  PixelVLAError,
  type Prompt,
  decodeRle,
  encodeRle,
  parsePrompts,
  stringToCounts,
} from '@pixelvla/model';
import { Editor } from '../editor';
import { emptyMask } from '../raster';
import { exportPrompts, importPrompts } from './prompts';

/** mulberry32: a tiny seeded PRNG, so a failure replays from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const W = 8;
const H = 6;
const OMIT = Symbol('omit');

class Gen {
  /** Set when a mask of another size than the frame was generated (the canvas's one extra rule). */
  offFrame = false;
  constructor(readonly r: () => number) {}
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)]!;
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  coord(): unknown {
    if (this.chance(0.85)) return this.pick([0, 1, 0.5, this.r(), this.r()]);
    return this.pick([-0.01, 1.0000001, NaN, Infinity, '0.5', null, true, OMIT, [0.5], {}]);
  }
  obj(fields: Record<string, unknown>): Record<string, unknown> {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) if (v !== OMIT) o[k] = v;
    if (this.chance(0.05)) o.z = 0;
    return o;
  }
  point(): unknown {
    const positive = this.chance(0.8) ? this.pick([OMIT, true, false]) : this.pick([null, 'yes', 1]);
    return this.obj({ type: 'point', x: this.coord(), y: this.coord(), positive });
  }
  box(): unknown {
    const [a, b, c, d] = [this.r(), this.r(), this.r(), this.r()];
    const shape = this.pick(['ordered', 'ordered', 'ordered', 'flat', 'reversed']);
    const xs =
      shape === 'flat'
        ? [a, a]
        : shape === 'reversed'
          ? [Math.max(a, b), Math.min(a, b)]
          : [Math.min(a, b), Math.max(a, b)];
    const ys = [Math.min(c, d), Math.max(c, d)];
    const maybe = (v: number) => (this.chance(0.93) ? v : this.coord());
    return this.obj({
      type: 'box',
      x0: maybe(xs[0]!),
      y0: maybe(ys[0]!),
      x1: maybe(xs[1]!),
      y1: maybe(ys[1]!),
    });
  }
  line(): unknown {
    if (this.chance(0.04)) return this.obj({ type: 'line', points: this.pick(['abc', null, OMIT, {}]) });
    const n = this.pick([0, 1, 2, 2, 3, 5]);
    const same = this.chance(0.1) ? [this.r(), this.r()] : null;
    const points = Array.from({ length: n }, () => {
      if (same) return [...same];
      if (this.chance(0.95)) return [this.coord(), this.coord()];
      return this.pick(['p', [0.5], [0.5, 0.5, 0.5], { x: 0.5, y: 0.5 }]);
    });
    return this.obj({ type: 'line', points });
  }
  mask(): unknown {
    const offFrame = this.chance(0.05);
    this.offFrame ||= offFrame;
    const m = emptyMask(offFrame ? W + 1 : W, H);
    const density = this.pick([0, 0.3, 0.3, 1]);
    for (let i = 0; i < m.data.length; i++) m.data[i] = this.r() < density ? 1 : 0;
    const rle = encodeRle(m);
    const form = this.pick(['string', 'string', 'string', 'ints', 'ints', 'short', 'badchar', 'garbage']);
    const counts =
      form === 'string'
        ? rle.counts
        : form === 'ints'
          ? stringToCounts(rle.counts)
          : form === 'short'
            ? stringToCounts(rle.counts).slice(0, -1)
            : form === 'badchar'
              ? `${rle.counts}\u0001`
              : this.pick([null, 7, [1.5], OMIT]);
    const size = this.chance(0.95) ? rle.size : this.pick([[H], 'x', [H, -W], [H, W, 1]]);
    return this.obj({
      type: 'mask',
      rle: this.chance(0.97) ? this.obj({ size, counts }) : this.pick([null, 'rle', OMIT]),
    });
  }
  item(): unknown {
    const k = this.r();
    if (k < 0.25) return this.point();
    if (k < 0.45) return this.box();
    if (k < 0.65) return this.line();
    if (k < 0.85) return this.mask();
    if (k < 0.92)
      return this.obj({ type: this.pick(['circle', 'Point', '', null, 7, OMIT]), x: 0.5, y: 0.5 });
    return this.pick([null, 3, 'point', [], ['point']]);
  }
  list(): unknown {
    if (this.chance(0.03)) return this.pick([{ type: 'point', x: 0.5, y: 0.5 }, 'x', null, 5]);
    return Array.from({ length: this.pick([0, 1, 1, 2, 2, 3]) }, () => this.item());
  }
}

/** The model's result as the canvas exports it: masks in the compressed string form. */
function asExported(ps: Prompt[]): unknown[] {
  return ps.map((p) => (p.type === 'mask' ? { type: 'mask', rle: encodeRle(decodeRle(p.rle)) } : p));
}

const attempt = <T>(f: () => T): { ok: true; value: T } | { ok: false; error: unknown } => {
  try {
    return { ok: true, value: f() };
  } catch (error) {
    return { ok: false, error };
  }
};

describe('canvas import = the model parser', () => {
  it('accepts and rejects the same random prompt lists, and keeps what the model keeps', () => {
    let accepted = 0;
    let rejected = 0;
    for (let seed = 1; seed <= 1500; seed++) {
      const gen = new Gen(rng(seed));
      const json = gen.list();
      const model = attempt(() => parsePrompts(json));
      const ed = new Editor({ width: W, height: H });
      const canvas = attempt(() => importPrompts(ed, json));
      const onFrame = model.ok && model.value.every((p) => p.type !== 'mask' || decodeRle(p.rle).width === W);
      const why = `seed ${seed}: ${JSON.stringify(json, (_k, v: unknown) => (Number.isNaN(v) ? 'NaN' : v))}`;
      expect(canvas.ok, why).toBe(model.ok && onFrame);
      if (canvas.ok && model.ok) {
        accepted++;
        expect(exportPrompts(ed), why).toEqual(asExported(model.value));
      } else if (!canvas.ok) {
        rejected++;
        // A typed error, and nothing half-imported.
        expect(canvas.error, why).toBeInstanceOf(PixelVLAError);
        if (!model.ok && !gen.offFrame)
          expect((canvas.error as PixelVLAError).code, why).toBe((model.error as PixelVLAError).code);
        expect(ed.shapes, why).toHaveLength(0);
        expect(ed.state.canUndo, why).toBe(false);
      }
    }
    // The generator explores both sides of the boundary.
    expect(accepted).toBeGreaterThan(300);
    expect(rejected).toBeGreaterThan(300);
  });

  it('names the prompt that is wrong, with the model message', () => {
    const ed = new Editor({ width: W, height: H });
    expect(() =>
      importPrompts(ed, [
        { type: 'point', x: 0.5, y: 0.5 },
        { type: 'box', x0: 0.2, y0: 0.2, x1: 0.2, y1: 0.6 },
      ]),
    ).toThrow(/^prompt 1: box must have x1 > x0/);
    const m = emptyMask(W, H);
    expect(() => importPrompts(ed, [{ type: 'mask', rle: encodeRle(m) }])).toThrow(
      /prompt 0: mask prompt is empty/,
    );
    expect(ed.shapes).toHaveLength(0);
  });
});
