/// <reference lib="webworker" />
// The prompt encoder in its own module worker so featurisation and ONNX Runtime never block
// drawing. @pixelvla/model's runner picks WebGPU when an adapter exists and a session builds on
// it, WASM otherwise (ORT-WEB.md: an adapter can exist while session creation still fails).
import {
  createPromptEncoder,
  parsePrompts,
  webgpuAvailable,
  type PromptEncoderRunner,
} from '@pixelvla/model';
import type { FromWorker, ToWorker } from './protocol';

declare const self: DedicatedWorkerGlobalScope;

let runner: PromptEncoderRunner | null = null;

const post = (m: FromWorker, transfer: Transferable[] = []): void => self.postMessage(m, transfer);

async function sha256(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return [...d].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function init(msg: Extract<ToWorker, { type: 'init' }>): Promise<void> {
  const res = await fetch(msg.modelUrl);
  if (!res.ok) throw new Error(`could not fetch ${msg.modelUrl}: HTTP ${res.status}`);
  const modelBytes = new Uint8Array(await res.arrayBuffer());
  const hash = await sha256(modelBytes);
  const t0 = performance.now();
  runner = await createPromptEncoder({
    modelBytes,
    backend: msg.prefer,
    wasmPaths: { mjs: msg.wasm.mjs, wasm: msg.wasm.wasm },
    // A 50 KB graph: thread hand-offs cost more than they save.
    numThreads: 1,
  });
  // The first run compiles kernels (about a second on WASM here); pay it now, not on the first stroke.
  await runner.encode([]);
  const backend = runner.backend === 'webgpu' ? 'webgpu' : 'wasm';
  let fallbackReason: string | undefined;
  if (msg.prefer !== 'wasm' && backend === 'wasm') {
    fallbackReason = (await webgpuAvailable())
      ? 'WebGPU session failed; using WASM'
      : 'no WebGPU adapter; using WASM';
  }
  post({
    type: 'ready',
    backend,
    createMs: performance.now() - t0,
    sha256: hash,
    ...(fallbackReason ? { fallbackReason } : {}),
  });
}

async function encode(msg: Extract<ToWorker, { type: 'encode' }>): Promise<void> {
  if (!runner) throw new Error('encoder not initialised');
  const t0 = performance.now();
  const prompts = parsePrompts(msg.prompts);
  const out = await runner.encode(prompts);
  const total = performance.now() - t0;
  const tokens = out.tokens;
  const valid = out.valid;
  post(
    { type: 'encoded', id: msg.id, tokens, valid, featurizeMs: Math.max(0, total - out.ms), runMs: out.ms },
    [tokens.buffer, valid.buffer],
  );
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
