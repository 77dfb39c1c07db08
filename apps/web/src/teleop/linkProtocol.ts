// Messages between the teleop page (link.ts) and the worker that owns the robot's WebSocket
// (link.worker.ts). Everything here survives structured cloning: commands travel already packed
// (msgpack bytes), frames as plain arrays plus a transferred ImageBitmap.

/** A page that has not told the worker it is alive for this long has the robot stopped: the
 * operator could not press Stop or E-stop on it either. Jank of a few hundred ms is tolerated. */
export const PAGE_LIMIT_MS = 2000;
/** How often the page tells the worker it is alive. */
export const PAGE_ALIVE_MS = 100;

/** Why the robot last stopped, as the server recorded it (RobotSessionInfo.last_stop). */
export interface StopInfo {
  /** stop, estop, jog, deadman, controller disconnected, error */
  readonly reason: string;
  /** How long the server had heard nothing from the controller when it stopped. */
  readonly silent_ms: number | null;
  /** The part of silent_ms that was the server's own lag (frozen, or not reading yet): not held against us. */
  readonly server_ms: number;
  /** The session's dead-man limit at the time. */
  readonly limit_ms: number;
  /** The controller's own reason for a stop it sent, or the server's error. */
  readonly detail: string | null;
}

/** The server's view of this controller's link (RobotSessionInfo.link), plus the worker's own timer. */
export interface LinkStats {
  readonly deadman_ms: number;
  readonly heartbeat_ms: number;
  readonly silent_ms: number | null;
  readonly window_s: number;
  readonly gaps: number;
  readonly gap_p50_ms: number | null;
  readonly gap_p99_ms: number | null;
  readonly gap_max_ms: number | null;
  readonly loop_lag_p99_ms: number | null;
  readonly loop_lag_max_ms: number | null;
  readonly server_freeze_max_ms: number;
  /** The longest gap between two of the worker's heartbeat timer ticks since the last report. */
  readonly worker_gap_max_ms: number;
}

/** The task's outcome in the current episode, as the robot judges it (RobotSessionInfo.outcome). */
export interface TaskOutcome {
  /** The task is done; null for a robot that cannot tell. */
  readonly success: boolean | null;
  /** Actions applied since the episode's reset. */
  readonly steps: number;
  /** The robot's clock since the reset (simulated seconds for a sim). */
  readonly time_s: number;
  /** The steps the episode has to succeed in. */
  readonly max_steps: number | null;
  /** As an eval counts the episode: failure once max_steps pass without success. */
  readonly verdict: 'success' | 'failure' | 'running' | 'unknown';
}

/** The episode a session runs: a task and a seed (the sim's scene). */
export interface EpisodeInfo {
  readonly task: string;
  readonly seed: number;
}

export type Role = 'controller' | 'watcher';

export interface FrameData {
  readonly seq: number;
  /** The robot's mode when the frame was built; null when a later mode change makes it stale. */
  readonly mode: string | null;
  readonly instruction: string;
  readonly state: number[] | null;
  readonly action: number[] | null;
  readonly plan: number[][];
  /** The streamed camera's model as the server sent it (parsed on the page). */
  readonly camera: unknown;
  readonly bitmap: ImageBitmap | null;
  readonly outcome: TaskOutcome | null;
  readonly episode: EpisodeInfo | null;
  /** Frames per second over the last second and the gap before this frame, timed on arrival. */
  readonly fps: number;
  readonly gapMs: number | null;
}

export type ToLink =
  | { readonly type: 'open'; readonly url: string }
  /** A command packed on the page (it may hold typed arrays); `kind` is its type, for ack timing. */
  | { readonly type: 'send'; readonly kind: string; readonly bytes: Uint8Array }
  /** The page is alive: sent from the page's own timer, so a frozen page stops sending it. */
  | { readonly type: 'alive' }
  /** The page has drawn the last frame it was given: the worker may send the next (latest wins). */
  | { readonly type: 'frame-done' }
  | { readonly type: 'close'; readonly reason: string };

export type FromLink =
  | { readonly type: 'open' }
  | { readonly type: 'closed'; readonly code: number; readonly reason: string }
  | {
      readonly type: 'session';
      readonly role: Role;
      readonly mode: string;
      readonly instruction: string;
      readonly recording: boolean;
      readonly lastStop: StopInfo | null;
      readonly outcome: TaskOutcome | null;
      readonly episode: EpisodeInfo;
    }
  /** This connection's role changed: another client took control, or this one did. */
  | { readonly type: 'role'; readonly role: Role; readonly reason: string | null }
  /** The session started a new episode (a reset): its task, seed, instruction and fresh outcome. */
  | {
      readonly type: 'episode';
      readonly episode: EpisodeInfo;
      readonly instruction: string;
      readonly mode: string;
      readonly outcome: TaskOutcome | null;
      readonly frameSeq: number;
    }
  | ({ readonly type: 'frame' } & FrameData)
  | {
      readonly type: 'status';
      readonly mode: string;
      readonly stop: StopInfo | null;
      /** The first frame built after this stop (-1: unknown). */
      readonly frameSeq: number;
    }
  | {
      readonly type: 'ack';
      readonly command: string;
      readonly rttMs: number | null;
      readonly fields: Readonly<Record<string, unknown>>;
    }
  | { readonly type: 'error'; readonly code: string; readonly message: string }
  | { readonly type: 'link'; readonly stats: LinkStats }
  | { readonly type: 'bad-message'; readonly error: string };
