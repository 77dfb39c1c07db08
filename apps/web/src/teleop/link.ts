// The controller's WebSocket to a robot session (binary msgpack, openpi array layout). Sends a
// heartbeat well inside the server's dead-man window, decodes JPEG frames off the main paint path
// (createImageBitmap), times command acknowledgements, and stops the robot when the tab goes away.
import { createStore, type StoreApi } from 'zustand/vanilla';
import { NdArray, packMessage, unpackMessage, type WireValue } from '@pixelvla/model';
import { type CameraModel, parseCameraModel } from '../actions/path';

export type LinkState = 'connecting' | 'open' | 'closed';
export type RobotMode = 'idle' | 'go' | 'stopped' | 'estopped' | 'error';

export interface LinkStatus {
  readonly link: LinkState;
  readonly closeReason: string | null;
  readonly role: string | null;
  readonly mode: RobotMode | null;
  readonly modeReason: string | null;
  readonly instruction: string;
  readonly frame: ImageBitmap | null;
  readonly seq: number;
  /** Frames per second over the last second. */
  readonly fps: number;
  /** Milliseconds between the last two frames (jitter shows here first). */
  readonly frameGapMs: number | null;
  /** How old the newest frame is; grows when the stream stalls. */
  readonly frameAgeMs: number | null;
  /** Round trip of the last acknowledged command. */
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

/** Heartbeat period: the server stops the robot after 200 ms of silence by default. */
export const HEARTBEAT_MS = 60;

const INITIAL: LinkStatus = {
  link: 'connecting',
  closeReason: null,
  role: null,
  mode: null,
  modeReason: null,
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

type Msg = Record<string, unknown>;

const numbers = (v: unknown): number[] | null =>
  v instanceof NdArray
    ? Array.from(v.data as ArrayLike<number | bigint>, Number)
    : Array.isArray(v)
      ? v.map(Number)
      : null;

export class RobotLink {
  readonly status: StoreApi<LinkStatus> = createStore<LinkStatus>(() => INITIAL);
  private readonly ws: WebSocket;
  private heartbeat: number | null = null;
  private lastFrameAt: number | null = null;
  private pendingAcks = new Map<string, number>();
  private frameTimes: number[] = [];
  private decoding = false;
  /** The frame before the one on screen: closed one frame late so the canvas never draws a closed bitmap. */
  private retired: ImageBitmap | null = null;
  private readonly onHide = (): void => this.close('tab closed');

  constructor(sessionId: string, opts: { operatorToken?: string } = {}) {
    const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    const q = new URLSearchParams({ role: 'controller' });
    if (opts.operatorToken) q.set('operator_token', opts.operatorToken);
    this.ws = new WebSocket(
      `${proto}//${window.location.host}/v1/robots/${encodeURIComponent(sessionId)}/stream?${q}`,
    );
    this.ws.binaryType = 'arraybuffer';
    this.ws.onopen = () => {
      this.status.setState({ link: 'open' });
      this.heartbeat = window.setInterval(() => {
        this.send({ type: 'heartbeat' });
        this.tickStats();
      }, HEARTBEAT_MS);
    };
    this.ws.onmessage = (ev) => this.receive(ev.data as ArrayBuffer);
    this.ws.onclose = (ev) => {
      this.stopHeartbeat();
      this.status.setState({ link: 'closed', closeReason: `${ev.code}${ev.reason ? `: ${ev.reason}` : ''}` });
    };
    // Closing the tab stops the robot: say so explicitly, and the server's dead man backs it up.
    window.addEventListener('pagehide', this.onHide);
  }

  /** Sends a command; acknowledged commands get their round trip timed. */
  send(cmd: { type: string } & { [k: string]: WireValue }): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    if (cmd.type !== 'heartbeat') this.pendingAcks.set(cmd.type, performance.now());
    this.ws.send(packMessage(cmd));
    return true;
  }

  go(): void {
    this.send({ type: 'go' });
  }
  stop(): void {
    this.send({ type: 'stop' });
  }
  estop(): void {
    this.send({ type: 'estop' });
  }
  resetEstop(): void {
    this.send({ type: 'reset_estop' });
  }
  jog(delta: readonly number[]): void {
    this.send({ type: 'jog', delta: [...delta] });
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
  }): void {
    const cmd: { type: string } & { [k: string]: WireValue } = {
      type: 'prompt',
      instruction: p.instruction,
      prompts: p.prompts,
      pixel_masks: p.pixelMasks,
    };
    if (p.tokens) {
      cmd.prompt_tokens = new NdArray('<f4', [16, 256], p.tokens.tokens);
      cmd.prompt_valid = new NdArray('|b1', [16], p.tokens.valid);
    }
    this.send(cmd);
  }

  close(reason = 'closed by the studio'): void {
    window.removeEventListener('pagehide', this.onHide);
    if (this.ws.readyState === WebSocket.OPEN) {
      this.send({ type: 'stop' });
      this.ws.close(1000, reason);
    }
    this.stopHeartbeat();
  }

  /** Frame age and rate decay while no frames arrive, so a stalled stream looks stalled. */
  private tickStats(): void {
    if (this.lastFrameAt === null) return;
    const now = performance.now();
    while (this.frameTimes.length > 0 && now - this.frameTimes[0]! > 1000) this.frameTimes.shift();
    const age = now - this.lastFrameAt;
    const st = this.status.getState();
    if (Math.abs((st.frameAgeMs ?? 0) - age) > 100 || st.fps !== this.frameTimes.length) {
      this.status.setState({ frameAgeMs: age, fps: this.frameTimes.length });
    }
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== null) window.clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private receive(data: ArrayBuffer): void {
    let m: Msg;
    try {
      m = unpackMessage(new Uint8Array(data)) as Msg;
    } catch (e) {
      this.status.setState({ lastError: `bad frame from server: ${String(e)}` });
      return;
    }
    switch (m.type) {
      case 'session':
        this.status.setState({
          role: String(m.role),
          mode: m.mode as RobotMode,
          instruction: String(m.instruction ?? ''),
          recording: Boolean(m.recording),
        });
        break;
      case 'frame':
        this.onFrame(m);
        break;
      case 'status':
        this.status.setState({ mode: m.mode as RobotMode, modeReason: m.reason ? String(m.reason) : null });
        break;
      case 'ack': {
        const cmd = String(m.command);
        const t0 = this.pendingAcks.get(cmd);
        this.pendingAcks.delete(cmd);
        const patch: Partial<Mutable<LinkStatus>> = { lastAck: cmd, lastError: null };
        if (t0 !== undefined) patch.ackRttMs = performance.now() - t0;
        if (typeof m.recording === 'boolean') patch.recording = m.recording;
        if (typeof m.mode === 'string') patch.mode = m.mode as RobotMode;
        if (
          cmd === 'record' &&
          m.recording === false &&
          typeof m.dataset === 'string' &&
          typeof m.episode === 'number'
        ) {
          patch.saved = { dataset: m.dataset, episode: m.episode };
        }
        this.status.setState(patch);
        break;
      }
      case 'error': {
        const err = m.error as { code?: string; message?: string } | undefined;
        this.status.setState({ lastError: `${err?.code ?? 'error'}: ${err?.message ?? ''}` });
        break;
      }
    }
  }

  private onFrame(m: Msg): void {
    const now = performance.now();
    const last = this.frameTimes.at(-1);
    this.lastFrameAt = now;
    this.frameTimes.push(now);
    while (this.frameTimes.length > 0 && now - this.frameTimes[0]! > 1000) this.frameTimes.shift();
    const images = m.images as Record<string, Uint8Array> | undefined;
    const name = images ? Object.keys(images)[0] : undefined;
    const jpeg = name !== undefined ? images![name] : undefined;
    const cams = m.camera_models as Record<string, unknown> | undefined;
    const plan = Array.isArray(m.plan) ? m.plan.map(numbers).filter((a): a is number[] => a !== null) : [];
    this.status.setState({
      seq: Number(m.seq),
      mode: (m.mode as RobotMode) ?? this.status.getState().mode,
      instruction: String(m.instruction ?? ''),
      state: numbers(m.state),
      action: numbers(m.action),
      plan,
      camera: name !== undefined && cams ? parseCameraModel(cams[name]) : null,
      fps: this.frameTimes.length,
      frameGapMs: last === undefined ? null : now - last,
      frameAgeMs: 0,
    });
    // Decode one frame at a time; if the decoder is busy, this frame is skipped (the next is newer).
    if (!jpeg || this.decoding) return;
    this.decoding = true;
    createImageBitmap(new Blob([jpeg as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }))
      .then((bmp) => {
        this.retired?.close();
        this.retired = this.status.getState().frame;
        this.status.setState({ frame: bmp });
      })
      .catch(() => {})
      .finally(() => {
        this.decoding = false;
      });
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
