/// <reference lib="webworker" />
// The prompt encoder in its own module worker so featurisation and ONNX Runtime never block
// drawing. WebGPU when an adapter exists and a session builds on it, WASM otherwise (after
// ORT-WEB.md: an adapter can exist while session creation still fails).
import * as ort from 'onnxruntime-web';
import { featurize, MASK_SIZE, MAX_MASKS, MAX_TOKENS } from './featurize';
import type { Backend, FromWorker, ToWorker } from './protocol';

declare const self: DedicatedWorkerGlobalScope;

let session: ort.InferenceSession | null = null;

const post = (m: FromWorker, transfer: Transferable[] = []): void => self.postMessage(m, transfer);

async function sha256(bytes: ArrayBuffer): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return [...d].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function hasAdapter(): Promise<boolean> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

async function init(msg: Extract<ToWorker, { type: 'init' }>): Promise<void> {
  ort.env.wasm.wasmPaths = { mjs: msg.wasm.mjs, wasm: msg.wasm.wasm };
  // A 50 KB graph: thread hand-offs cost more than they save.
  ort.env.wasm.numThreads = 1;
  const res = await fetch(msg.modelUrl);
  if (!res.ok) throw new Error(`could not fetch ${msg.modelUrl}: HTTP ${res.status}`);
  const bytes = await res.arrayBuffer();
  const hash = await sha256(bytes);
  const t0 = performance.now();
  let backend: Backend = 'wasm';
  let fallbackReason: string | undefined;
  if (msg.prefer !== 'wasm' && (await hasAdapter())) {
    try {
      session = await ort.InferenceSession.create(new Uint8Array(bytes), { executionProviders: ['webgpu'] });
      backend = 'webgpu';
    } catch (e) {
      fallbackReason = `WebGPU session failed: ${String(e)}`;
    }
  } else if (msg.prefer !== 'wasm') {
    fallbackReason = 'no WebGPU adapter';
  }
  session ??= await ort.InferenceSession.create(new Uint8Array(bytes), { executionProviders: ['wasm'] });
  post({
    type: 'ready',
    backend,
    createMs: performance.now() - t0,
    sha256: hash,
    ...(fallbackReason ? { fallbackReason } : {}),
  });
}

async function encode(msg: Extract<ToWorker, { type: 'encode' }>): Promise<void> {
  if (!session) throw new Error('encoder not initialised');
  const t0 = performance.now();
  const f = featurize(msg.prompts);
  const t1 = performance.now();
  const feeds = {
    coords: new ort.Tensor('float32', f.coords, [1, MAX_TOKENS, 2]),
    types: new ort.Tensor('int32', f.types, [1, MAX_TOKENS]),
    index: new ort.Tensor('int32', f.index, [1, MAX_TOKENS]),
    mask_slot: new ort.Tensor('int32', f.mask_slot, [1, MAX_TOKENS]),
    masks: new ort.Tensor('float32', f.masks, [1, MAX_MASKS, MASK_SIZE, MASK_SIZE]),
    valid: new ort.Tensor('bool', f.valid, [1, MAX_TOKENS]),
  };
  const out = await session.run(feeds);
  const t2 = performance.now();
  const tokensTensor = out.tokens;
  if (!tokensTensor) throw new Error('the encoder returned no "tokens" output');
  const tokens = new Float32Array((await tokensTensor.getData()) as Float32Array);
  tokensTensor.dispose();
  post({ type: 'encoded', id: msg.id, tokens, valid: f.valid, featurizeMs: t1 - t0, runMs: t2 - t1 }, [
    tokens.buffer,
    f.valid.buffer,
  ]);
}

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const msg = ev.data;
  const job = msg.type === 'init' ? init(msg) : encode(msg);
  job.catch((e: unknown) => {
    const code =
      (e as { code?: string }).code ?? (msg.type === 'init' ? 'encoder_init_failed' : 'encode_failed');
    post({
      type: 'error',
      id: msg.type === 'encode' ? msg.id : null,
      code,
      message: e instanceof Error ? e.message : String(e),
    });
  });
};
