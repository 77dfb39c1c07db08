import { describe, expect, it } from 'vitest';
import type { LaunchedRobot, RemoteRobotInfo } from '../api/remoteRobots';
import { clampInit, drivable, isRunning, launchPollMs, launchStatusText } from './launch';

const rec = (s: Partial<LaunchedRobot>): LaunchedRobot => ({
  id: 'launch-1',
  name: 'libero-spatial-t0-i0',
  kind: 'libero',
  suite: 'libero_spatial',
  task_id: 0,
  init_index: 0,
  instruction: 'pick up the black bowl',
  status: 'installing',
  error: null,
  exit_code: null,
  pid: 10,
  age_s: 12.4,
  log: [],
  ...s,
});

const robot = (name: string, in_use: boolean) => ({ name, in_use }) as RemoteRobotInfo;

describe('launched robots', () => {
  it('says what the install does and how long it has taken', () => {
    expect(launchStatusText(rec({}), false)).toBe("installing LIBERO's environment (first use, ~2 GB)… 12 s");
    expect(launchStatusText(rec({}), true)).toBe("checking LIBERO's environment… 12 s");
    expect(launchStatusText(rec({ status: 'starting', age_s: 40 }), true)).toBe(
      'starting: LIBERO builds the scene… 40 s',
    );
  });

  it('gives the typed error of an end, or the exit code without one', () => {
    const failed = rec({
      status: 'failed',
      error: { code: 'libero_unavailable', message: 'installing failed', detail: null },
    });
    expect(launchStatusText(failed, false)).toBe('failed: libero_unavailable: installing failed');
    expect(launchStatusText(rec({ status: 'exited', exit_code: 3 }), true)).toBe('exited: exit 3');
    expect(launchStatusText(rec({ status: 'stopped' }), true)).toBe('stopped');
  });

  it('polls fast only while something installs or starts', () => {
    expect(launchPollMs([rec({ status: 'connected' }), rec({ status: 'starting' })])).toBe(1000);
    expect(launchPollMs([rec({ status: 'connected' }), rec({ status: 'failed' })])).toBe(5000);
    expect(launchPollMs([])).toBe(5000);
    expect([isRunning(rec({ status: 'connected' })), isRunning(rec({ status: 'exited' }))]).toEqual([
      true,
      false,
    ]);
  });

  it('is drivable once connected and listed, while no session holds it', () => {
    const r = rec({ status: 'connected' });
    expect(drivable(r, [robot(r.name, false)])?.name).toBe(r.name);
    expect(drivable(r, [robot(r.name, true)])).toBeNull();
    expect(drivable(r, [robot('other', false)])).toBeNull();
    expect(drivable(rec({ status: 'starting' }), [robot(r.name, false)])).toBeNull();
  });

  it('keeps the initial state in the official range', () => {
    expect([clampInit(-3, 50), clampInit(7.8, 50), clampInit(99, 50), clampInit(NaN, 50)]).toEqual([
      0, 7, 49, 0,
    ]);
  });
});
