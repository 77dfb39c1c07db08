// Prompt-encoder runner for the browser over onnxruntime-web (WebGPU with a WASM fallback).
// onnxruntime-web is imported lazily so that importing @pixelvla/model for featurisation alone
// costs nothing; bundlers split it into its own chunk. See docs/ORT-WEB.md.

import { EncoderError } from './errors';
import { wrapSession, type Backend, type PromptEncoderRunner } from './runner-core';

export interface PromptEncoderOptions {
  /** URL of prompt_encoder.onnx (e.g. '/models/prompt_encoder.onnx'); or pass modelBytes. */
  modelUrl?: string;
  modelBytes?: Uint8Array;
  /** 'auto' (default): WebGPU on a hardware adapter, else (or if WebGPU fails) WASM. */
  backend?: 'webgpu' | 'wasm' | 'auto';
  /** Where ort-wasm-simd-threaded.jsep.{mjs,wasm} are served (env.wasm.wasmPaths). */
  wasmPaths?: string | { mjs?: string; wasm?: string };
  /** env.wasm.numThreads; threads only work on cross-origin-isolated pages. */
  numThreads?: number;
}

interface AdapterLike {
  isFallbackAdapter?: boolean;
  info?: { isFallbackAdapter?: boolean; architecture?: string; description?: string };
}
interface GpuLike {
  requestAdapter(): Promise<AdapterLike | null>;
}

/**
 * True when the page can get a hardware WebGPU adapter (navigator.gpu alone is not enough).
 * Software adapters (SwiftShader, "fallback" adapters) are refused: on them this ~50 KB encoder
 * takes about a second per run on WebGPU against milliseconds on WASM.
 */
export async function webgpuAvailable(): Promise<boolean> {
  const gpu = (globalThis.navigator as (Navigator & { gpu?: GpuLike }) | undefined)?.gpu;
  if (!gpu) return false;
  try {
    const adapter = await gpu.requestAdapter();
    if (adapter == null) return false;
    const info = adapter.info;
    const software =
      adapter.isFallbackAdapter === true ||
      info?.isFallbackAdapter === true ||
      /swiftshader/i.test(`${info?.architecture ?? ''} ${info?.description ?? ''}`);
    return !software;
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
