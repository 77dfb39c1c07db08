import { describe, expect, it } from 'vitest';
import { fit, imageToScreen, normToScreen, screenToImage, screenToNorm, zoomAt } from './geometry';

describe('coordinate transforms', () => {
  const size = { width: 1280, height: 720 };
  const views = [
    { scale: 1, x: 0, y: 0 },
    { scale: 2.5, x: -300, y: 40 },
    { scale: 0.37, x: 123.5, y: -9 },
  ];

  it('screen -> image -> screen and screen -> normalised -> screen are inverses under zoom and pan', () => {
    for (const v of views) {
      for (const p of [
        { x: 0, y: 0 },
        { x: 640, y: 360 },
        { x: 17.25, y: 999 },
      ]) {
        const back = imageToScreen(v, screenToImage(v, p));
        expect(back.x).toBeCloseTo(p.x, 9);
        expect(back.y).toBeCloseTo(p.y, 9);
        const n = screenToNorm(v, size, p);
        const s = normToScreen(v, size, n);
        expect(s.x).toBeCloseTo(p.x, 9);
        expect(s.y).toBeCloseTo(p.y, 9);
      }
    }
  });

  it('the image corners map to normalised 0 and 1', () => {
    const v = views[1]!;
    const br = imageToScreen(v, { x: 1280, y: 720 });
    expect(screenToNorm(v, size, br)).toEqual({ x: 1, y: 1 });
    expect(screenToNorm(v, size, { x: v.x, y: v.y })).toEqual({ x: 0, y: 0 });
  });

  it('zooming keeps the image point under the cursor fixed', () => {
    const v = views[1]!;
    const anchor = { x: 400, y: 300 };
    const before = screenToImage(v, anchor);
    const z = zoomAt(v, anchor, 1.7);
    expect(z.scale).toBeCloseTo(v.scale * 1.7);
    const after = screenToImage(z, anchor);
    expect(after.x).toBeCloseTo(before.x, 9);
    expect(after.y).toBeCloseTo(before.y, 9);
  });

  it('fit shows the whole frame centred with the limiting side filling the container', () => {
    const v = fit(size, { width: 1000, height: 1000 }, 0);
    expect(v.scale).toBeCloseTo(1000 / 1280);
    expect(v.x).toBeCloseTo(0);
    expect(v.y).toBeCloseTo((1000 - 720 * v.scale) / 2);
  });
});
