// The "Start LIBERO task" control's logic (LaunchLibero.tsx): what a launched robot's status says to
// the operator, how often to poll, and when its robot can be driven. The server side is
// apps/gpu-server/pixelvla_server/robots/launcher.py (docs/PROTOCOLS.md "Launched robots").
import type { LaunchedRobot, RemoteRobotInfo } from '../api/remoteRobots';

export type LaunchStatus = LaunchedRobot['status'];

const ACTIVE: ReadonlySet<LaunchStatus> = new Set(['installing', 'starting']);
const RUNNING: ReadonlySet<LaunchStatus> = new Set(['installing', 'starting', 'connected']);

export const isRunning = (r: Pick<LaunchedRobot, 'status'>) => RUNNING.has(r.status);

/** Poll fast while something installs or starts (the operator waits on it), slowly otherwise. */
export function launchPollMs(robots: readonly Pick<LaunchedRobot, 'status'>[]): number {
  return robots.some((r) => ACTIVE.has(r.status)) ? 1000 : 5000;
}

/** One line for the operator: the phase, how long it has taken, and for an end, why. */
export function launchStatusText(r: LaunchedRobot, installed: boolean): string {
  const secs = `${Math.round(r.age_s)} s`;
  switch (r.status) {
    case 'installing':
      return installed
        ? `checking LIBERO's environment… ${secs}`
        : `installing LIBERO's environment (first use, ~2 GB)… ${secs}`;
    case 'starting':
      return `starting: LIBERO builds the scene… ${secs}`;
    case 'connected':
      return 'connected';
    case 'stopped':
      return 'stopped';
    case 'exited':
    case 'failed':
      return `${r.status}: ${r.error ? `${r.error.code}: ${r.error.message}` : `exit ${r.exit_code ?? '?'}`}`;
  }
}

/** The connected remote robot a launch became, when no session drives it yet. */
export function drivable(r: LaunchedRobot, remote: readonly RemoteRobotInfo[]): RemoteRobotInfo | null {
  if (r.status !== 'connected') return null;
  const robot = remote.find((x) => x.name === r.name);
  return robot && !robot.in_use ? robot : null;
}

/** An initial-state index the server accepts: an integer in 0..count-1. */
export function clampInit(value: number, count: number): number {
  if (!Number.isFinite(value)) return 0;
  return Math.min(Math.max(0, Math.floor(value)), Math.max(0, count - 1));
}
