// Why the robot stopped, in words for the operator: what happened, the numbers behind it (the
// silence against the dead-man limit, the link's recent heartbeat gaps) and what to change.
import type { LinkStats, StopInfo } from './linkProtocol';

const ms = (v: number): string => `${Math.round(v)} ms`;

export function explainStop(stop: StopInfo, link: LinkStats | null): string {
  switch (stop.reason) {
    case 'deadman': {
      const frozen =
        stop.frozen_ms >= 1 ? ` (plus ${ms(stop.frozen_ms)} in which the server itself was frozen)` : '';
      const heard = stop.silent_ms === null ? 0 : stop.silent_ms - stop.frozen_ms;
      const gaps =
        link && link.gap_p99_ms !== null && link.gap_max_ms !== null
          ? ` Heartbeat gaps over the last ${link.window_s} s: p99 ${ms(link.gap_p99_ms)}, max ${ms(link.gap_max_ms)}.`
          : '';
      return (
        `Stopped by the dead man: the server heard nothing from this studio for ${ms(heard)}${frozen}, ` +
        `over its ${ms(stop.limit_ms)} limit.${gaps} If you were at the controls, this machine or the ` +
        `link is too busy: close other work, or start the session with a longer dead-man limit ` +
        `(deadman_ms, 100–2000 ms). Go resumes.`
      );
    }
    case 'controller disconnected':
      return 'Stopped: the controlling studio disconnected.';
    case 'jog':
      return 'Stopped: a jog takes over from the policy. Go resumes it.';
    case 'estop':
      return `E-stopped${stop.detail ? ` (${stop.detail})` : ''}: press Reset E-stop, then Go.`;
    case 'error':
      return `Stopped by a server error: ${stop.detail ?? 'no details'}.`;
    default:
      if (stop.detail?.startsWith('studio page unresponsive')) {
        return (
          `Stopped: ${stop.detail}. While the page is frozen, Stop and E-stop cannot be pressed, ` +
          `so the studio stops the robot; close heavy tabs or other work. Go resumes.`
        );
      }
      return stop.detail ? `Stopped: ${stop.detail}.` : 'Stopped.';
  }
}
