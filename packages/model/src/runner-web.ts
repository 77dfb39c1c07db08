// Prompt-encoder runner for the browser over onnxruntime-web (WebGPU with a WASM fallback).
// onnxruntime-web is imported lazily so that importing @pixelvla/model for featurisation alone
// costs nothing; bundlers split it into its own chunk. See shared/docs/ORT-WEB.md.

import { EncoderError } from './errors';
import { wrapSession, type Backend, type PromptEncoderRunner } from './runner-core';

export interface PromptEncoderOptions {
  /** URL of prompt_encoder.onnx (e.g. '/models/prompt_encoder.onnx'); or pass modelBytes. */
  modelUrl?: string;
  modelBytes?: Uint8Array;
  /** 'auto' (default) tries WebGPU when an adapter exists, else WASM. */
  backend?: 'webgpu' | 'wasm' | 'auto';
  /** Where ort-wasm-simd-threaded.jsep.{mjs,wasm} are served (env.wasm.wasmPaths). */
  wasmPaths?: string | { mjs?: string; wasm?: string };
  /** env.wasm.numThreads; threads only work on cross-origin-isolated pages. */
  numThreads?: number;
}

interface GpuLike {
  requestAdapter(): Promise<unknown>;
}

/** True when the page can get a WebGPU adapter (navigator.gpu alone is not enough). */
export async function webgpuAvailable(): Promise<boolean> {
  const gpu = (globalThis.navigator as (Navigator & { gpu?: GpuLike }) | undefined)?.gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) != null;
  } catch {
    return false;
  }
}

async function loadModel(options: PromptEncoderOptions): Promise<Uint8Array> {
  if (options.modelBytes) return options.modelBytes;
  if (!options.modelUrl) throw new EncoderError('createPromptEncoder needs modelUrl or modelBytes');
  const res = await fetch(options.modelUrl);
  if (!res.ok) throw new EncoderError(`could not fetch ${options.modelUrl}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

export async function createPromptEncoder(options: PromptEncoderOptions): Promise<PromptEncoderRunner> {
  const ort = await import('onnxruntime-web');
  if (options.wasmPaths !== undefined) ort.env.wasm.wasmPaths = options.wasmPaths;
  if (options.numThreads !== undefined) ort.env.wasm.numThreads = options.numThreads;
  const model = await loadModel(options);
  const wanted = options.backend ?? 'auto';
  const tryWebgpu = wanted === 'webgpu' || (wanted === 'auto' && (await webgpuAvailable()));
  const create = async (backend: Backend) =>
    wrapSession(ort, await ort.InferenceSession.create(model, { executionProviders: [backend] }), backend);
  if (tryWebgpu) {
    try {
      return await create('webgpu');
    } catch (e) {
      // An adapter can exist while session creation still fails; only 'auto' may fall back.
      if (wanted === 'webgpu') {
        throw new EncoderError(`WebGPU prompt encoder failed: ${(e as Error).message}`, { cause: e });
      }
    }
  }
  try {
    return await create('wasm');
  } catch (e) {
    throw new EncoderError(`WASM prompt encoder failed: ${(e as Error).message}`, { cause: e });
  }
}
