import { describe, expect, it } from 'vitest';
import { PixelVLAError, PromptError, RleError } from './errors';
import {
  areaResample,
  checkFeatures,
  featurize,
  parsePrompts,
  pixelCentre,
  resamplePolyline,
  TokenType,
  type Prompt,
} from './prompts';
import { float32Of, int32Of, bytesOf, readTestdata, type FeaturizeCase } from './testdata';

const cases = readTestdata<{ cases: FeaturizeCase[] }>('featurize.json').cases;
const errorCases = readTestdata<{ cases: { name: string; prompts: unknown; code: string }[] }>(
  'prompt_errors.json',
).cases;

function expectBitsEqual(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length, what).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++)
    worst = Math.max(worst, Math.abs((got[i] as number) - (want[i] as number)));
  expect(worst, `${what}: max abs difference`).toBeLessThanOrEqual(1e-6);
  // Stronger than the 1e-6 contract: the same float32 bits.
  expect(new Uint32Array(got.buffer, got.byteOffset, got.length), what).toEqual(new Uint32Array(want.buffer));
}

function catchError(fn: () => unknown): PixelVLAError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PixelVLAError) return e;
    throw e;
  }
  throw new Error('expected a PixelVLAError');
}

describe('featurize matches Python (testdata/featurize.json)', () => {
  it('includes seeded random geometry', () => {
    expect(cases.filter((c) => c.name.startsWith('random_')).length).toBeGreaterThanOrEqual(10);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const f = featurize(parsePrompts(c.prompts));
    expectBitsEqual(f.coords, float32Of(c.features.coords), 'coords');
    expect(f.types).toEqual(int32Of(c.features.types));
    expect(f.index).toEqual(int32Of(c.features.index));
    expect(f.mask_slot).toEqual(int32Of(c.features.mask_slot));
    expect(f.valid).toEqual(bytesOf(c.features.valid));
    const masks = float32Of(c.features.masks);
    expectBitsEqual(f.masks.subarray(0, masks.length), masks, 'masks');
    expect(f.masks.subarray(masks.length).every((v) => v === 0)).toBe(true);
    checkFeatures(f);
  });
});

describe('bad prompts give the same error codes as Python (testdata/prompt_errors.json)', () => {
  it.each(errorCases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const err = catchError(() => featurize(parsePrompts(c.prompts)));
    expect(err.code).toBe(c.code);
    expect(err.message.length).toBeGreaterThan(10);
  });
});

describe('prompt validation', () => {
  it.each([NaN, Infinity, -Infinity])('rejects %s coordinates', (v) => {
    const err = catchError(() => featurize([{ type: 'point', x: v, y: 0.5, positive: true }]));
    expect(err).toBeInstanceOf(PromptError);
    expect(err.message).toContain('finite');
  });

  it('validates objects built in code, not only JSON', () => {
    const box = { type: 'box', x0: 0.5, y0: 0.5, x1: 0.2, y1: 0.9 } as Prompt;
    expect(() => featurize([box])).toThrow(/x1 > x0/);
    const notAList = 'point' as unknown as Prompt[];
    expect(() => featurize(notAList)).toThrow(PromptError);
  });

  it('names the limit when there are too many tokens or masks', () => {
    const line: Prompt = {
      type: 'line',
      points: [
        [0, 0],
        [1, 1],
      ],
    };
    expect(() => featurize([line, line])).not.toThrow();
    expect(() => featurize([line, line, { type: 'point', x: 0.5, y: 0.5, positive: true }])).toThrow(
      /at most 16.*max_tokens/,
    );
    const mask: Prompt = { type: 'mask', rle: { size: [3, 4], counts: '0<' } };
    expect(() => featurize([mask, mask, mask])).toThrow(/max_masks/);
  });

  it('reports wrong-sized masks as RLE errors', () => {
    expect(() => featurize([{ type: 'mask', rle: { size: [3, 5], counts: '0<' } }])).toThrow(RleError);
  });

  it('checkFeatures rejects wrong array types and lengths', () => {
    const f = featurize([]);
    expect(() => checkFeatures({ ...f, coords: new Float64Array(32) })).toThrow(/Float32Array/);
    expect(() => checkFeatures({ ...f, types: new Int32Array(15) })).toThrow(/length 16/);
    expect(() => checkFeatures({ ...f, types: new Int32Array(16).fill(8) })).toThrow(/types/);
    expect(() => checkFeatures({ ...f, coords: new Float32Array(32).fill(NaN) })).toThrow(/NaN/);
    expect(() => checkFeatures({ ...f, valid: new Uint8Array(16).fill(2) })).toThrow(/0 or 1/);
    expect(() => checkFeatures(null)).toThrow(PromptError);
  });
});

describe('geometry', () => {
  it('maps pixel centres with the half-pixel rule', () => {
    expect(pixelCentre(0, 0, 224, 224)).toEqual([0.5 / 224, 0.5 / 224]);
    expect(pixelCentre(223, 99, 224, 100)).toEqual([223.5 / 224, 0.995]);
  });

  it('resamples polylines by arc length', () => {
    const out = resamplePolyline([
      [0, 0],
      [0.35, 0],
      [0.35, 0.35],
    ]);
    const arc = out.map(([x, y]) => (y === 0 ? x : 0.35 + y));
    arc.forEach((a, k) => expect(a).toBeCloseTo(k * 0.1, 12));
  });

  it('area-resamples to exact coverage', () => {
    const out = areaResample({ height: 7, width: 3, data: new Uint8Array(21).fill(1) }, 64);
    expect(out.every((v) => v === 1)).toBe(true);
    const one = new Uint8Array(15);
    one[1 * 5 + 2] = 1;
    expect([...areaResample({ height: 3, width: 5, data: one }, 2)]).toEqual(
      new Array(4).fill(Math.fround(1 / 15)),
    );
  });

  it('lays out tokens in prompt order', () => {
    const f = featurize([
      { type: 'point', x: 0.1, y: 0.2, positive: false },
      { type: 'box', x0: 0.1, y0: 0.2, x1: 0.6, y1: 0.9 },
      { type: 'mask', rle: { size: [3, 4], counts: '0<' } },
    ]);
    expect([...f.types.subarray(0, 5)]).toEqual([
      TokenType.pointNegative,
      TokenType.boxTopLeft,
      TokenType.boxBottomRight,
      TokenType.mask,
      TokenType.pad,
    ]);
    expect([...f.valid.subarray(0, 5)]).toEqual([1, 1, 1, 1, 0]);
  });
});
