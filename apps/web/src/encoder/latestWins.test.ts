import { describe, expect, it } from 'vitest';
import { LatestWins } from './latestWins';

/** A job runner whose jobs finish when the test says so, recording what ran and when. */
function gatedRunner() {
  const started: number[] = [];
  const gates: (() => void)[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const run = (n: number) =>
    new Promise<number>((resolve) => {
      started.push(n);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      gates.push(() => {
        inFlight--;
        resolve(n * 10);
      });
    });
  const release = async () => {
    gates.shift()?.();
    await new Promise((r) => setTimeout(r, 0));
  };
  return { run, started, release, max: () => maxInFlight };
}

describe('latest-wins coalescing', () => {
  it('runs one job at a time, skips superseded requests and always runs the newest', async () => {
    const g = gatedRunner();
    const lw = new LatestWins(g.run);
    const results = [1, 2, 3, 4].map((n) => lw.submit(n));
    expect(g.started).toEqual([1]);
    await g.release();
    expect(g.started).toEqual([1, 4]);
    await g.release();
    expect(await Promise.all(results)).toEqual([10, null, null, 40]);
    expect(g.max()).toBe(1);
    expect(lw.busy).toBe(false);
  });

  it('a failing job rejects only its own request and the queue keeps going', async () => {
    let calls = 0;
    const lw = new LatestWins(async (n: number) => {
      calls++;
      if (n === 1) throw new Error('boom');
      return n;
    });
    const a = lw.submit(1);
    const b = lw.submit(2);
    await expect(a).rejects.toThrow('boom');
    await expect(b).resolves.toBe(2);
    expect(calls).toBe(2);
  });
});
