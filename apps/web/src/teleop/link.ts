// The controller's link to a robot session, page side. The WebSocket itself lives in a dedicated
// worker (link.worker.ts) that sends the heartbeats on its own timer and decodes the frames, so no
// amount of work on this thread can starve the server's dead man of heartbeats. This side packs
// commands, keeps the status store the cockpit renders, tells the worker every PAGE_ALIVE_MS that the
// page is alive, and stops the robot when the tab goes away or is hidden. The link joins as the
// controller when the robot has none and as a watcher otherwise (role=auto): a watcher sees the live
// frames, may Stop and E-stop, and may take control explicitly.
import { useEffect, useState } from 'react';
import { createStore, type StoreApi } from 'zustand/vanilla';
import {
  NdArray,
  OBSERVATION_CEILINGS,
  packMessage,
  type ObservationSpec,
  type WireValue,
} from '@pixelvla/model';
import { type CameraModel, parseCameraModel } from '../actions/path';
import {
  PAGE_ALIVE_MS,
  type EpisodeInfo,
  type FromLink,
  type LinkStats,
  type Role,
  type StopInfo,
  type TaskOutcome,
  type ToLink,
} from './linkProtocol';

export type { EpisodeInfo, LinkStats, Role, StopInfo, TaskOutcome } from './linkProtocol';
export type LinkState = 'connecting' | 'open' | 'closed';
export type RobotMode = 'idle' | 'go' | 'stopped' | 'estopped' | 'error';

export interface LinkStatus {
  readonly link: LinkState;
  readonly closeReason: string | null;
  /** controller (this tab drives) or watcher (another client drives; this tab may stop or take control). */
  readonly role: Role | null;
  /** Why the role last changed (e.g. another client took control), until it changes again. */
  readonly roleNote: string | null;
  /** The episode the session runs and the task's outcome in it so far. */
  readonly episode: EpisodeInfo | null;
  /** How many new episodes (resets) this link has seen: a reset to the same task and seed counts. */
  readonly resets: number;
  readonly outcome: TaskOutcome | null;
  readonly mode: RobotMode | null;
  /** Why the robot last stopped, as the server recorded it; the cockpit shows it while stopped. */
  readonly stop: StopInfo | null;
  /** The server's numbers for this link (heartbeat gaps, its own lag), once a second. */
  readonly linkStats: LinkStats | null;
  readonly instruction: string;
  readonly frame: ImageBitmap | null;
  readonly seq: number;
  /** Frames per second over the last second. */
  readonly fps: number;
  /** Milliseconds between the last two frames (jitter shows here first). */
  readonly frameGapMs: number | null;
  /** How old the newest frame is; grows when the stream stalls. */
  readonly frameAgeMs: number | null;
  /** Round trip of the last acknowledged command, timed in the worker (page jank does not inflate it). */
  readonly ackRttMs: number | null;
  readonly state: readonly number[] | null;
  readonly action: readonly number[] | null;
  /** The rest of the policy's chunk still to execute (7-D un-normalised deltas); empty when idle. */
  readonly plan: readonly (readonly number[])[];
  /** The streamed camera's model (for projecting the plan), when the robot is calibrated. */
  readonly camera: CameraModel | null;
  readonly recording: boolean;
  readonly lastError: string | null;
  readonly lastAck: string | null;
  /** Where the last recording went, from the server's acknowledgement of record off. */
  readonly saved: { readonly dataset: string; readonly episode: number } | null;
}

const INITIAL: LinkStatus = {
  link: 'connecting',
  closeReason: null,
  role: null,
  roleNote: null,
  episode: null,
  resets: 0,
  outcome: null,
  mode: null,
  stop: null,
  linkStats: null,
  instruction: '',
  frame: null,
  seq: -1,
  fps: 0,
  frameGapMs: null,
  frameAgeMs: null,
  ackRttMs: null,
  state: null,
  action: null,
  plan: [],
  camera: null,
  recording: false,
  lastError: null,
  lastAck: null,
  saved: null,
};

export class RobotLink {
  readonly status: StoreApi<LinkStatus> = createStore<LinkStatus>(() => INITIAL);
  private readonly worker: Worker;
  private readonly alive: number;
  private lastFrameAt: number | null = null;
  private closing = false;
  /** The frame before the one on screen: closed one frame late so the canvas never draws a closed bitmap. */
  private retired: ImageBitmap | null = null;
  private readonly onHide = (): void => this.close('tab closed');
  private readonly onVisibility = (): void => {
    // A hidden tab: nobody is watching the stream or near Esc. (The worker's heartbeats would keep a
    // robot going in a background tab; the page's own timers are throttled there.)
    const st = this.status.getState();
    if (document.visibilityState === 'hidden' && st.mode === 'go' && st.role === 'controller') {
      this.stop('studio tab hidden');
    }
  };

  constructor(sessionId: string, opts: { operatorToken?: string } = {}) {
    const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    const q = new URLSearchParams({ role: 'auto' });
    if (opts.operatorToken) q.set('operator_token', opts.operatorToken);
    this.worker = new Worker(new URL('./link.worker.ts', import.meta.url), {
      type: 'module',
      name: 'robot-link',
    });
    this.worker.onmessage = (ev: MessageEvent<FromLink>) => this.receive(ev.data);
    this.worker.onerror = (ev) => this.status.setState({ lastError: `link worker failed: ${ev.message}` });
    this.post({
      type: 'open',
      url: `${proto}//${window.location.host}/v1/robots/${encodeURIComponent(sessionId)}/stream?${q}`,
    });
    // The page's own timer: when this thread is too busy to run it, the worker knows.
    this.alive = window.setInterval(() => {
      this.post({ type: 'alive' });
      this.tickStats();
    }, PAGE_ALIVE_MS);
    // Closing the tab stops the robot: say so explicitly, and the server's dead man backs it up.
    window.addEventListener('pagehide', this.onHide);
    document.addEventListener('visibilitychange', this.onVisibility);
  }

  /** Sends a command (the worker times its acknowledgement). */
  send(cmd: { type: string } & { [k: string]: WireValue }): boolean {
    if (this.status.getState().link !== 'open') return false;
    const bytes = packMessage(cmd);
    this.post({ type: 'send', kind: cmd.type, bytes });
    return true;
  }

  go(): void {
    this.send({ type: 'go' });
  }
  /** Stops the robot; `reason` is kept by the server as the stop's detail. */
  stop(reason?: string): void {
    this.send(reason ? { type: 'stop', reason } : { type: 'stop' });
  }
  estop(): void {
    this.send({ type: 'estop' });
  }
  resetEstop(): void {
    this.send({ type: 'reset_estop' });
  }
  /** One control step in the robot's action space (teleop/jog.ts builds it from the robot's description). */
  jog(delta: readonly number[]): void {
    this.send({ type: 'jog', delta: [...delta] });
  }
  /** A watcher (with the operator token) becomes the controller; the robot stops first. */
  takeControl(): void {
    this.send({ type: 'take_control' });
  }
  /** A new episode in this session: a new scene from `task` and `seed`. */
  reset(task: string, seed: number): void {
    this.send({ type: 'reset', task, seed });
  }
  /** Starts recording into `dataset` (created on first use) or stops and saves the episode. */
  record(on: boolean, dataset = 'recordings'): void {
    this.send(on ? { type: 'record', on, dataset } : { type: 'record', on });
  }
  prompt(p: {
    instruction: string;
    prompts: WireValue[];
    pixelMasks: WireValue[];
    tokens?: { tokens: Float32Array; valid: Uint8Array } | null;
    /** The served model's spec (GET /v1/meta `model.observation`); the ceilings until it is known. */
    spec?: ObservationSpec | null;
  }): void {
    const cmd: { type: string } & { [k: string]: WireValue } = {
      type: 'prompt',
      instruction: p.instruction,
      prompts: p.prompts,
      pixel_masks: p.pixelMasks,
    };
    if (p.tokens) {
      const [n, dim] = (p.spec ?? OBSERVATION_CEILINGS).prompt_tokens as readonly [number, number];
      cmd.prompt_tokens = new NdArray('<f4', [n, dim], p.tokens.tokens);
      cmd.prompt_valid = new NdArray('|b1', [n], p.tokens.valid);
    }
    this.send(cmd);
  }

  close(reason = 'closed by the studio'): void {
    if (this.closing) return;
    this.closing = true;
    window.removeEventListener('pagehide', this.onHide);
    document.removeEventListener('visibilitychange', this.onVisibility);
    window.clearInterval(this.alive);
    // The worker sends stop, closes the socket (or abandons the handshake), says 'closed'; then it ends.
    this.post({ type: 'close', reason });
  }

  private post(m: ToLink, transfer: Transferable[] = []): void {
    this.worker.postMessage(m, transfer);
  }

  /** Frame age grows and the rate decays while no frames arrive, so a stalled stream looks stalled. */
  private tickStats(): void {
    if (this.lastFrameAt === null) return;
    const age = performance.now() - this.lastFrameAt;
    const st = this.status.getState();
    if (age > 1000 && st.fps !== 0) this.status.setState({ frameAgeMs: age, fps: 0 });
    else if (Math.abs((st.frameAgeMs ?? 0) - age) > 100) this.status.setState({ frameAgeMs: age });
  }

  private receive(m: FromLink): void {
    switch (m.type) {
      case 'open':
        this.status.setState({ link: 'open' });
        break;
      case 'closed':
        this.status.setState({ link: 'closed', closeReason: `${m.code}${m.reason ? `: ${m.reason}` : ''}` });
        if (this.closing) this.worker.terminate();
        break;
      case 'session':
        this.status.setState({
          role: m.role,
          mode: m.mode as RobotMode,
          instruction: m.instruction,
          recording: m.recording,
          stop: m.lastStop,
          outcome: m.outcome,
          episode: m.episode,
        });
        break;
      case 'role':
        this.status.setState({ role: m.role, roleNote: m.reason });
        break;
      case 'episode':
        this.status.setState({
          episode: m.episode,
          resets: this.status.getState().resets + 1,
          instruction: m.instruction,
          mode: m.mode as RobotMode,
          outcome: m.outcome,
          stop: null,
          plan: [],
        });
        break;
      case 'frame':
        this.onFrame(m);
        break;
      case 'status':
        this.status.setState({ mode: m.mode as RobotMode, stop: m.stop });
        break;
      case 'ack': {
        const f = m.fields;
        const patch: Partial<Mutable<LinkStatus>> = { lastAck: m.command, lastError: null };
        if (m.rttMs !== null) patch.ackRttMs = m.rttMs;
        if (typeof f.recording === 'boolean') patch.recording = f.recording;
        if (typeof f.mode === 'string') patch.mode = f.mode as RobotMode;
        if (f.role === 'controller' || f.role === 'watcher') {
          patch.role = f.role;
          patch.roleNote = null;
        }
        if (
          m.command === 'record' &&
          f.recording === false &&
          typeof f.dataset === 'string' &&
          typeof f.episode === 'number'
        ) {
          patch.saved = { dataset: f.dataset, episode: f.episode };
        }
        this.status.setState(patch);
        break;
      }
      case 'error':
        this.status.setState({ lastError: `${m.code}: ${m.message}` });
        break;
      case 'link':
        this.status.setState({ linkStats: m.stats });
        break;
      case 'bad-message':
        this.status.setState({ lastError: `bad frame from server: ${m.error}` });
        break;
    }
  }

  private onFrame(m: Extract<FromLink, { type: 'frame' }>): void {
    this.lastFrameAt = performance.now();
    const patch: Partial<Mutable<LinkStatus>> = {
      seq: m.seq,
      mode: (m.mode as RobotMode | null) ?? this.status.getState().mode,
      instruction: m.instruction,
      state: m.state,
      action: m.action,
      plan: m.plan,
      camera: m.camera ? parseCameraModel(m.camera) : null,
      fps: m.fps,
      frameGapMs: m.gapMs,
      frameAgeMs: 0,
    };
    if (m.outcome) patch.outcome = m.outcome;
    if (m.episode) patch.episode = m.episode;
    if (m.bitmap) {
      this.retired?.close();
      this.retired = this.status.getState().frame;
      patch.frame = m.bitmap;
    }
    this.status.setState(patch);
    this.post({ type: 'frame-done' }); // the worker may hand over the next (newest) frame
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The link of a mounted cockpit (controller or watcher): made by the effect that closes it, so React's
 * development double-mount closes the first link instead of leaving a second controller around. */
export function useRobotLink(sessionId: string): RobotLink | null {
  const [link, setLink] = useState<RobotLink | null>(null);
  useEffect(() => {
    const made = new RobotLink(sessionId);
    setLink(made);
    return () => made.close('left the teleop page');
  }, [sessionId]);
  return link;
}
