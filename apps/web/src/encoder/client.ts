// The studio side of the encoder worker: at most one encode in flight, latest wins (LatestWins):
// a request made while one is running replaces any request still waiting (its promise resolves
// null), so dragging a point never queues a backlog of stale encodes.
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { PromptJson } from '../canvas/io/prompts';
import type { Backend, FromWorker, ToWorker } from './protocol';
import { LatestWins } from './latestWins';
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm?url';
import mjsUrl from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.mjs?url';

export interface EncoderStatus {
  readonly state: 'loading' | 'ready' | 'error';
  readonly backend: Backend | null;
  readonly fallbackReason: string | null;
  readonly createMs: number | null;
  readonly lastRunMs: number | null;
  readonly lastFeaturizeMs: number | null;
  readonly encodes: number;
  readonly error: string | null;
  /** From public/models/prompt_encoder.json: what the browser encoder was exported from. */
  readonly encoderHash: string | null;
  /** sha256 of the .onnx bytes as fetched, checked against the metadata file. */
  readonly fileOk: boolean | null;
}

export interface Encoded {
  readonly tokens: Float32Array;
  readonly valid: Uint8Array;
  readonly runMs: number;
}

interface Pending {
  resolve: (r: Encoded) => void;
  reject: (e: Error) => void;
}

export interface EncoderMeta {
  readonly sha256: string;
  readonly encoder_hash: string;
}

export class EncoderClient {
  readonly status: StoreApi<EncoderStatus> = createStore<EncoderStatus>(() => ({
    state: 'loading',
    backend: null,
    fallbackReason: null,
    createMs: null,
    lastRunMs: null,
    lastFeaturizeMs: null,
    encodes: 0,
    error: null,
    encoderHash: null,
    fileOk: null,
  }));
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private ready: Promise<void>;
  private readonly queue = new LatestWins<readonly PromptJson[], Encoded>((prompts) => this.run(prompts));

  constructor(opts: { modelUrl?: string; metaUrl?: string; prefer?: 'auto' | Backend } = {}) {
    const modelUrl = opts.modelUrl ?? `${import.meta.env.BASE_URL}models/prompt_encoder.onnx`;
    const metaUrl = opts.metaUrl ?? `${import.meta.env.BASE_URL}models/prompt_encoder.json`;
    this.worker = new Worker(new URL('./encoder.worker.ts', import.meta.url), {
      type: 'module',
      name: 'prompt-encoder',
    });
    const abs = (u: string): string => new URL(u, window.location.href).href;
    let markReady: () => void = () => {};
    let markFailed: (e: Error) => void = () => {};
    this.ready = new Promise<void>((res, rej) => {
      markReady = res;
      markFailed = rej;
    });
    this.ready.catch(() => {});
    const meta = fetch(metaUrl).then(async (r) => (r.ok ? ((await r.json()) as EncoderMeta) : null));
    this.worker.onmessage = (ev: MessageEvent<FromWorker>) => {
      const m = ev.data;
      if (m.type === 'ready') {
        void meta.then((md) =>
          this.status.setState({
            state: 'ready',
            backend: m.backend,
            createMs: m.createMs,
            fallbackReason: m.fallbackReason ?? null,
            encoderHash: md?.encoder_hash ?? null,
            fileOk: md ? md.sha256 === m.sha256 : null,
          }),
        );
        markReady();
      } else if (m.type === 'encoded') {
        this.status.setState((s) => ({
          lastRunMs: m.runMs,
          lastFeaturizeMs: m.featurizeMs,
          encodes: s.encodes + 1,
          error: null,
        }));
        this.settle(m.id, (r) => r.resolve({ tokens: m.tokens, valid: m.valid, runMs: m.runMs }));
      } else {
        this.status.setState({ error: m.message, ...(m.id === null ? { state: 'error' as const } : {}) });
        if (m.id === null) markFailed(new Error(m.message));
        else this.settle(m.id, (r) => r.reject(new Error(m.message)));
      }
    };
    this.worker.onerror = (ev) => {
      this.status.setState({ state: 'error', error: ev.message || 'encoder worker failed to start' });
      markFailed(new Error(ev.message));
    };
    const init: ToWorker = {
      type: 'init',
      modelUrl: abs(modelUrl),
      wasm: { mjs: abs(mjsUrl), wasm: abs(wasmUrl) },
      prefer: opts.prefer ?? 'auto',
    };
    this.worker.postMessage(init);
  }

  /**
   * Forgets the last request's error (a failed load stays): the client is shared by the tab's pages,
   * and a page that starts using it must not show another page's rejected prompts as its own.
   */
  clearRequestError(): void {
    if (this.status.getState().state !== 'error') this.status.setState({ error: null });
  }

  /** Encodes the prompts, or resolves null when a newer request superseded this one. */
  encode(prompts: readonly PromptJson[]): Promise<Encoded | null> {
    return this.queue.submit(prompts);
  }

  private async run(prompts: readonly PromptJson[]): Promise<Encoded> {
    await this.ready;
    const id = this.nextId++;
    return new Promise<Encoded>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const msg: ToWorker = { type: 'encode', id, prompts };
      this.worker.postMessage(msg);
    });
  }

  private settle(id: number, fn: (r: Pending) => void): void {
    const p = this.pending.get(id);
    this.pending.delete(id);
    if (p) fn(p);
  }

  dispose(): void {
    this.worker.terminate();
  }
}
