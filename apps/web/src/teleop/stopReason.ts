// Why the robot stopped, in words for the operator: what happened, the numbers behind it (the
// silence against the dead-man limit, the link's recent heartbeat gaps) and what to do next. A
// watching tab reads the same stop about the controlling client, not about itself.
import type { LinkStats, StopInfo } from './linkProtocol';

const ms = (v: number): string => `${Math.round(v)} ms`;

export interface StopView {
  /** This tab watches: the controller is another client (its link numbers are not ours). */
  readonly watching?: boolean;
}

export function explainStop(stop: StopInfo, link: LinkStats | null, view: StopView = {}): string {
  const who = view.watching ? 'the controlling client' : 'this studio';
  switch (stop.reason) {
    case 'deadman': {
      const silent = stop.silent_ms ?? 0;
      const ours = silent - stop.server_ms; // the server's own lag is not held against the studio
      if (ours <= stop.limit_ms) {
        return (
          `Stopped by the dead man: the server did not read ${who} for ${ms(silent)}, ` +
          `${ms(stop.server_ms)} of it its own lag, more than it allows itself. The server is ` +
          `overloaded: close other work on its machine. Go resumes.`
        );
      }
      const late = stop.server_ms >= 1 ? ` (plus ${ms(stop.server_ms)} the server itself was late)` : '';
      const gaps =
        !view.watching && link && link.gap_p99_ms !== null && link.gap_max_ms !== null
          ? ` Heartbeat gaps over the last ${link.window_s} s: p99 ${ms(link.gap_p99_ms)}, max ${ms(link.gap_max_ms)}.`
          : '';
      return (
        `Stopped by the dead man: the server heard nothing from ${who} for ${ms(ours)}${late}, ` +
        `over its ${ms(stop.limit_ms)} limit.${gaps} If you were at the controls, this machine or the ` +
        `link is too busy: close other work, or start the session with a longer dead-man limit ` +
        `(deadman_ms, 100–2000 ms). Go resumes.`
      );
    }
    case 'controller disconnected':
      return (
        `Stopped: the controlling studio disconnected` +
        (stop.silent_ms !== null ? ` (its last message ${ms(stop.silent_ms)} before)` : '') +
        `. Open the session again to control it, then Go.`
      );
    case 'jog':
      return 'Stopped: a jog takes over from the policy. Go resumes it.';
    case 'control taken':
      return view.watching
        ? 'Stopped: another client took control of this robot. Take control to drive it again.'
        : 'Stopped when this tab took control. Go drives it from here.';
    case 'reset':
      return 'Stopped for a new episode.';
    case 'estop':
      return `E-stopped${stop.detail ? ` (${stop.detail})` : ''}: press Reset E-stop, then Go.`;
    case 'error':
      return (
        `Stopped by a server error: ${stop.detail ?? 'no details'}. Change what the error names ` +
        `(the prompt, the model), then Go.`
      );
    default:
      if (stop.detail?.startsWith('studio page unresponsive')) {
        return (
          `Stopped: ${stop.detail}. While the page is frozen, Stop and E-stop cannot be pressed, ` +
          `so the studio stops the robot; close heavy tabs or other work. Go resumes.`
        );
      }
      if (stop.detail === 'studio tab hidden') {
        return (
          'Stopped: the studio tab was hidden, so nobody watched the robot or had Esc at hand. ' +
          'Go resumes.'
        );
      }
      return stop.detail ? `Stopped: ${stop.detail}. Go resumes.` : 'Stopped. Go resumes.';
  }
}
