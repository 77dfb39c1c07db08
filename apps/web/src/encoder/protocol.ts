// Messages between the studio and its prompt-encoder worker. Typed arrays are transferred.
import type { PromptJson } from '../canvas/io/prompts';

export type Backend = 'webgpu' | 'wasm';

export type ToWorker =
  | {
      readonly type: 'init';
      readonly modelUrl: string;
      readonly wasm: { readonly mjs: string; readonly wasm: string };
      /** 'auto' uses WebGPU when an adapter exists and the session builds, WASM otherwise. */
      readonly prefer: 'auto' | Backend;
    }
  | { readonly type: 'encode'; readonly id: number; readonly prompts: readonly PromptJson[] };

export type FromWorker =
  | {
      readonly type: 'ready';
      readonly backend: Backend;
      readonly createMs: number;
      readonly sha256: string;
      readonly fallbackReason?: string;
    }
  | {
      readonly type: 'encoded';
      readonly id: number;
      /** (16, 256) row-major. */
      readonly tokens: Float32Array;
      readonly valid: Uint8Array;
      readonly featurizeMs: number;
      readonly runMs: number;
    }
  | { readonly type: 'error'; readonly id: number | null; readonly code: string; readonly message: string };
