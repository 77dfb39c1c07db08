// The prompt-encoder runner shared by the browser (onnxruntime-web) and Node (onnxruntime-node)
// entries. Both runtimes implement onnxruntime-common's InferenceSession/Tensor, so this file only
// needs their types; each entry passes in its own module.

import type { InferenceSession, Tensor } from 'onnxruntime-web';
import { EncoderError } from './errors';
import {
  checkFeatures,
  featurize,
  MASK_SIZE,
  MAX_MASKS,
  MAX_TOKENS,
  type Prompt,
  type PromptFeatures,
} from './prompts';

export const TOKEN_DIM = 256;

export type Backend = 'webgpu' | 'wasm' | 'cpu';

export interface PromptEncoding {
  /** (16, 256) row-major; rows where valid is 0 are zeros. */
  tokens: Float32Array;
  /** (16,) 0/1 */
  valid: Uint8Array;
  backend: Backend;
  /** Wall time of session.run (feeds in, tokens out) in milliseconds. */
  ms: number;
}

export interface PromptEncoderRunner {
  readonly backend: Backend;
  /** Run the encoder on featurised arrays (validated first: PromptError on bad input). */
  run(features: PromptFeatures): Promise<PromptEncoding>;
  /** featurize + run. */
  encode(prompts: readonly Prompt[]): Promise<PromptEncoding>;
  release(): Promise<void>;
}

/** The part of an onnxruntime module the runner uses (onnxruntime-web and -node both fit). */
export interface OrtModule {
  Tensor: typeof Tensor;
}

export function makeFeeds(ort: OrtModule, f: PromptFeatures): Record<string, Tensor> {
  return {
    coords: new ort.Tensor('float32', f.coords, [1, MAX_TOKENS, 2]),
    types: new ort.Tensor('int32', f.types, [1, MAX_TOKENS]),
    index: new ort.Tensor('int32', f.index, [1, MAX_TOKENS]),
    mask_slot: new ort.Tensor('int32', f.mask_slot, [1, MAX_TOKENS]),
    masks: new ort.Tensor('float32', f.masks, [1, MAX_MASKS, MASK_SIZE, MASK_SIZE]),
    valid: new ort.Tensor('bool', f.valid, [1, MAX_TOKENS]),
  };
}

const now = (): number => globalThis.performance.now();

export function wrapSession(
  ort: OrtModule,
  session: InferenceSession,
  backend: Backend,
): PromptEncoderRunner {
  async function run(features: PromptFeatures): Promise<PromptEncoding> {
    checkFeatures(features);
    const feeds = makeFeeds(ort, features);
    const t0 = now();
    let out: InferenceSession.OnnxValueMapType;
    try {
      out = await session.run(feeds);
    } catch (e) {
      throw new EncoderError(`prompt encoder failed to run on ${backend}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const ms = now() - t0;
    const tensor = out.tokens;
    if (!tensor || tensor.type !== 'float32' || tensor.data.length !== MAX_TOKENS * TOKEN_DIM) {
      throw new EncoderError(`prompt encoder returned no (1, ${MAX_TOKENS}, ${TOKEN_DIM}) float32 'tokens'`);
    }
    // Copy: the runtime may reuse or free its output buffer.
    const tokens = new Float32Array(tensor.data as Float32Array);
    tensor.dispose();
    return { tokens, valid: new Uint8Array(features.valid), backend, ms };
  }
  return {
    backend,
    run,
    encode: (prompts) => run(featurize(prompts)),
    release: () => session.release(),
  };
}
