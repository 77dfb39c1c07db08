/// <reference lib="webworker" />
// The controller's WebSocket to a robot session, owned by a dedicated worker so that the page's
// own work (React renders, the canvas, the prompt encoder's messages) can never delay a heartbeat:
// the server's dead man stops the robot after deadman_ms (200 by default) of silence, and a busy
// main thread is silent for longer than that on a loaded two-core box. The worker sends heartbeats on
// its own timer at the interval the server asks for, decodes frames (msgpack, JPEG) and hands the
// page only the newest one, one at a time. It still stops the robot when the page itself stops
// answering for PAGE_LIMIT_MS: then the operator could not press Stop or E-stop either. Those stops
// (and the stop on close) are the controller's: a watching tab's link never stops the robot by
// itself, only when its operator presses Stop or E-STOP.
import { packMessage, unpackMessage, NdArray } from '@pixelvla/model';
import {
  PAGE_LIMIT_MS,
  type EpisodeInfo,
  type FromLink,
  type LinkStats,
  type Role,
  type StopInfo,
  type TaskOutcome,
  type ToLink,
} from './linkProtocol';

declare const self: DedicatedWorkerGlobalScope;

/** Until the server's session message says otherwise (its heartbeat_ms: deadman_ms / 4). */
const DEFAULT_HEARTBEAT_MS = 50;
const HEARTBEAT = packMessage({ type: 'heartbeat' });

type Msg = Record<string, unknown>;

let ws: WebSocket | null = null;
let timer: ReturnType<typeof setInterval> | null = null;
let heartbeatMs = DEFAULT_HEARTBEAT_MS;
let lastTick: number | null = null;
let tickGapMaxMs = 0;
let pageSeen = performance.now();
let pageStopped = false;
let mode: string | null = null;
/** Frames numbered below this were built before the last mode change (still on their way): their
 * mode is stale. The server says which frame is the first after each change (frame_seq). */
let modeSince = -1;
const sinceOf = (v: unknown): number => (typeof v === 'number' ? v : -1);
let role: Role | null = null;
const acks = new Map<string, number>();
// Frames: the newest one not yet handed over, and whether the page is still busy with the last one.
let pending: Msg | null = null;
let handing = false;
const frameTimes: number[] = [];
let lastFrameAt: number | null = null;

const post = (m: FromLink, transfer: Transferable[] = []): void => self.postMessage(m, transfer);

const numbers = (v: unknown): number[] | null =>
  v instanceof NdArray
    ? Array.from(v.data as ArrayLike<number | bigint>, Number)
    : Array.isArray(v)
      ? v.map(Number)
      : null;

const outcomeOf = (v: unknown): TaskOutcome | null => {
  if (v === null || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  return {
    success: typeof o.success === 'boolean' ? o.success : null,
    steps: Number(o.steps ?? 0),
    time_s: Number(o.time_s ?? 0),
    max_steps: typeof o.max_steps === 'number' ? o.max_steps : null,
    verdict:
      o.verdict === 'success' || o.verdict === 'failure' || o.verdict === 'running' ? o.verdict : 'unknown',
  };
};

const episodeOf = (v: unknown): EpisodeInfo | null => {
  if (v === null || typeof v !== 'object') return null;
  const e = v as Record<string, unknown>;
  return { task: String(e.task ?? ''), seed: Number(e.seed ?? 0) };
};

const roleOf = (v: unknown): Role => (v === 'controller' ? 'controller' : 'watcher');

const stopOf = (v: unknown): StopInfo | null => {
  if (v === null || typeof v !== 'object') return null;
  const s = v as Record<string, unknown>;
  return {
    reason: String(s.reason ?? ''),
    silent_ms: typeof s.silent_ms === 'number' ? s.silent_ms : null,
    server_ms: typeof s.server_ms === 'number' ? s.server_ms : 0,
    limit_ms: Number(s.limit_ms ?? 0),
    detail: typeof s.detail === 'string' ? s.detail : null,
  };
};

function send(bytes: Uint8Array, kind: string): void {
  if (ws?.readyState !== WebSocket.OPEN) return;
  if (kind !== 'heartbeat') acks.set(kind, performance.now());
  ws.send(bytes);
}

function startHeartbeat(ms: number): void {
  if (timer !== null) clearInterval(timer);
  heartbeatMs = ms;
  timer = setInterval(beat, heartbeatMs);
}

function beat(): void {
  const now = performance.now();
  if (lastTick !== null) tickGapMaxMs = Math.max(tickGapMaxMs, now - lastTick);
  lastTick = now;
  send(HEARTBEAT, 'heartbeat');
  const pageSilent = now - pageSeen;
  if (pageSilent > PAGE_LIMIT_MS && mode === 'go' && role === 'controller' && !pageStopped) {
    pageStopped = true;
    const reason = `studio page unresponsive for ${Math.round(pageSilent)} ms (limit ${PAGE_LIMIT_MS} ms)`;
    send(packMessage({ type: 'stop', reason }), 'stop');
  }
}

function connect(url: string): void {
  ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => {
    startHeartbeat(heartbeatMs);
    post({ type: 'open' });
  };
  ws.onmessage = (ev: MessageEvent<ArrayBuffer>) => receive(ev.data);
  ws.onclose = (ev) => {
    if (timer !== null) clearInterval(timer);
    timer = null;
    post({ type: 'closed', code: ev.code, reason: ev.reason });
  };
}

function receive(data: ArrayBuffer): void {
  let m: Msg;
  try {
    m = unpackMessage(new Uint8Array(data)) as Msg;
  } catch (e) {
    post({ type: 'bad-message', error: String(e) });
    return;
  }
  switch (m.type) {
    case 'session': {
      mode = String(m.mode);
      role = roleOf(m.role);
      const ms = Number(m.heartbeat_ms);
      if (Number.isFinite(ms) && ms > 0 && ms !== heartbeatMs) startHeartbeat(ms);
      post({
        type: 'session',
        role,
        mode,
        instruction: String(m.instruction ?? ''),
        recording: Boolean(m.recording),
        lastStop: stopOf(m.last_stop),
        outcome: outcomeOf(m.outcome),
        episode: { task: String(m.task ?? ''), seed: Number(m.seed ?? 0) },
      });
      break;
    }
    case 'role':
      role = roleOf(m.role);
      post({ type: 'role', role, reason: typeof m.reason === 'string' ? m.reason : null });
      break;
    case 'episode':
      mode = String(m.mode);
      modeSince = Math.max(modeSince, sinceOf(m.frame_seq));
      post({
        type: 'episode',
        episode: { task: String(m.task ?? ''), seed: Number(m.seed ?? 0) },
        instruction: String(m.instruction ?? ''),
        mode,
        outcome: outcomeOf(m.outcome),
        frameSeq: sinceOf(m.frame_seq),
      });
      break;
    case 'frame':
      onFrame(m);
      break;
    case 'status':
      mode = String(m.mode);
      modeSince = Math.max(modeSince, sinceOf(m.frame_seq));
      post({ type: 'status', mode, stop: stopOf(m.stop), frameSeq: sinceOf(m.frame_seq) });
      break;
    case 'ack': {
      const command = String(m.command);
      const t0 = acks.get(command);
      acks.delete(command);
      if (typeof m.mode === 'string') {
        mode = m.mode;
        modeSince = Math.max(modeSince, sinceOf(m.frame_seq));
      }
      if (m.role === 'controller' || m.role === 'watcher') role = m.role;
      const fields: Msg = { ...m };
      delete fields.type;
      delete fields.command;
      post({ type: 'ack', command, rttMs: t0 === undefined ? null : performance.now() - t0, fields });
      break;
    }
    case 'error': {
      const err = m.error as { code?: string; message?: string } | undefined;
      post({ type: 'error', code: err?.code ?? 'error', message: err?.message ?? '' });
      break;
    }
    case 'link': {
      const stats = { ...m, worker_gap_max_ms: tickGapMaxMs } as Msg;
      delete stats.type;
      post({ type: 'link', stats: stats as unknown as LinkStats });
      tickGapMaxMs = 0;
      break;
    }
  }
}

function onFrame(m: Msg): void {
  const now = performance.now();
  frameTimes.push(now);
  while (frameTimes.length > 0 && now - frameTimes[0]! > 1000) frameTimes.shift();
  m.gapMs = lastFrameAt === null ? null : now - lastFrameAt;
  m.fps = frameTimes.length;
  lastFrameAt = now;
  if (typeof m.mode === 'string' && Number(m.seq) >= modeSince) mode = m.mode;
  pending = m; // an older frame still waiting is dropped: the page only ever needs the newest
  void handOver();
}

async function handOver(): Promise<void> {
  if (handing || pending === null) return;
  const m = pending;
  pending = null;
  handing = true;
  const images = m.images as Record<string, Uint8Array> | undefined;
  const name = images ? Object.keys(images)[0] : undefined;
  const jpeg = name !== undefined ? images![name] : undefined;
  let bitmap: ImageBitmap | null = null;
  if (jpeg) {
    try {
      bitmap = await createImageBitmap(new Blob([jpeg as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }));
    } catch {
      bitmap = null; // a frame that does not decode is shown as the previous one
    }
  }
  const cams = m.camera_models as Record<string, unknown> | undefined;
  post(
    {
      type: 'frame',
      seq: Number(m.seq),
      // A frame built before the last mode change keeps the page's mode (the ack's or the stop's).
      mode: typeof m.mode === 'string' && Number(m.seq) >= modeSince ? m.mode : null,
      instruction: String(m.instruction ?? ''),
      state: numbers(m.state),
      action: numbers(m.action),
      plan: Array.isArray(m.plan) ? m.plan.map(numbers).filter((a): a is number[] => a !== null) : [],
      camera: name !== undefined && cams ? (cams[name] ?? null) : null,
      bitmap,
      outcome: outcomeOf(m.outcome),
      episode: episodeOf(m.episode),
      fps: Number(m.fps),
      gapMs: m.gapMs as number | null,
    },
    bitmap ? [bitmap] : [],
  );
}

self.onmessage = (ev: MessageEvent<ToLink>) => {
  const m = ev.data;
  switch (m.type) {
    case 'open':
      connect(m.url);
      break;
    case 'send':
      send(m.bytes, m.kind);
      if (m.kind === 'go') pageStopped = false;
      break;
    case 'alive':
      pageSeen = performance.now();
      pageStopped = false;
      break;
    case 'frame-done':
      handing = false;
      void handOver();
      break;
    case 'close':
      if (ws?.readyState === WebSocket.OPEN) {
        if (role === 'controller') send(packMessage({ type: 'stop' }), 'stop'); // a watcher leaving stops nothing
        ws.close(1000, m.reason);
      } else if (ws && ws.readyState !== WebSocket.CLOSED) {
        ws.close(); // still connecting: abandon the handshake (onclose follows)
      } else {
        post({ type: 'closed', code: 1000, reason: m.reason });
      }
      break;
  }
};
