// Prediction requests: the frame (a dataset reference, or the pixels as JPEG), the instruction,
// and the prompts as browser tokens when the encoders agree, as prompt JSON otherwise. They travel
// as the policy stream does (POST /v1/policy/predict/msgpack: one msgpack observation, arrays as
// raw little-endian bytes, the stream's `actions` reply back), never as JSON numbers; the limits
// are the served model's (its ObservationSpec in /v1/meta), else @pixelvla/model's ceilings.
import {
  NdArray,
  OBSERVATION_CEILINGS,
  packMessage,
  unpackMessage,
  type ObservationSpec,
  type WireValue,
} from '@pixelvla/model';
import { type Schemas, toServerError } from './client';
import type { PromptJson } from '../canvas/io/prompts';
import type { Encoded } from '../encoder/client';

export type PredictResponse = Schemas['PredictResponse'];
export type FrameRef = Schemas['FrameRef'];

export const PREDICT_PATH = '/v1/policy/predict/msgpack';

export interface PredictInput {
  frame: { ref: FrameRef } | { canvas: HTMLCanvasElement | ImageBitmap | HTMLImageElement };
  instruction: string;
  prompts: PromptJson[];
  /** Browser-encoded tokens, only when the browser encoder is the model's encoder. */
  tokens: Encoded | null;
  state?: number[];
  /** The served model's spec (GET /v1/meta `model.observation`); the ceilings until it is known. */
  spec?: ObservationSpec | null;
  /** Send the prompt JSON beside the tokens: a model with a text grounder checks the drawing
   * against the instruction (its reply's `grounding.agrees`). */
  alsoPrompts?: boolean;
}

export async function frameToJpeg(
  src: HTMLCanvasElement | ImageBitmap | HTMLImageElement,
  quality = 0.92,
): Promise<Uint8Array> {
  const c = document.createElement('canvas');
  c.width = src.width;
  c.height = src.height;
  c.getContext('2d')!.drawImage(src, 0, 0);
  const blob = await new Promise<Blob | null>((resolve) => c.toBlob(resolve, 'image/jpeg', quality));
  if (!blob) throw new Error(`the frame (${src.width}x${src.height}) could not be encoded as JPEG`);
  return new Uint8Array(await blob.arrayBuffer());
}

/** The observation map the policy stream takes (pixelvla_server/policy/codec.py). */
export async function observationOf(input: PredictInput): Promise<{ [k: string]: WireValue }> {
  const spec = input.spec ?? OBSERVATION_CEILINGS;
  // Prompt JSON as plain values (what JSON.stringify keeps: no undefined fields, no classes).
  const prompts = JSON.parse(JSON.stringify(input.prompts)) as ({ type: string; rle?: WireValue } & {
    [k: string]: WireValue;
  })[];
  const masks = prompts.flatMap((p) => (p.type === 'mask' && p.rle ? [p.rle] : []));
  const obs: { [k: string]: WireValue } = { instruction: input.instruction };
  if ('ref' in input.frame) obs.frame_ref = { ...input.frame.ref };
  else obs.image = await frameToJpeg(input.frame.canvas);
  if (masks.length > 0) obs.pixel_masks = masks.slice(0, spec.max_pixel_masks);
  if (input.state) obs.state = new NdArray('<f4', [input.state.length], Float32Array.from(input.state));
  if (input.tokens) {
    const [n, dim] = spec.prompt_tokens as readonly [number, number];
    obs.prompt_tokens = new NdArray('<f4', [n, dim], input.tokens.tokens);
    obs.prompt_valid = new NdArray('|b1', [n], input.tokens.valid);
    if (input.alsoPrompts && prompts.length > 0) obs.prompts = prompts;
  } else {
    obs.prompts = prompts;
  }
  return obs;
}

function rows(a: WireValue | undefined, what: string): number[][] {
  if (!(a instanceof NdArray) || a.shape.length !== 2 || !(a.data instanceof Float32Array)) {
    throw new Error(`the server's reply has no float32 (N, 7) ${what}`);
  }
  const [n, w] = a.shape as [number, number];
  const data = a.data;
  return Array.from({ length: n }, (_, i) => Array.from(data.subarray(i * w, (i + 1) * w)));
}

export async function predict(input: PredictInput): Promise<PredictResponse> {
  const body = packMessage(await observationOf(input));
  const response = await fetch(PREDICT_PATH, {
    method: 'POST',
    headers: { 'content-type': 'application/msgpack', accept: 'application/msgpack' },
    body: body as Uint8Array<ArrayBuffer>,
  });
  if (!response.ok) {
    const error: unknown = await response.json().catch(() => undefined);
    throw toServerError(response.status, error);
  }
  return readReply(new Uint8Array(await response.arrayBuffer()));
}

/** The stream's `actions` reply (msgpack) as the page's PredictResponse. */
export function readReply(bytes: Uint8Array): PredictResponse {
  const reply = unpackMessage(bytes);
  if (reply === null || typeof reply !== 'object' || Array.isArray(reply) || reply instanceof Uint8Array) {
    throw new Error('the server sent no actions reply');
  }
  const r = reply as { [k: string]: WireValue };
  const timing = r.timing_ms as { [k: string]: WireValue } | undefined;
  return {
    grounding: groundingOf(r.grounding),
    model_id: String(r.model_id),
    actions: rows(r.actions, 'actions'),
    actions_normalized: rows(r.actions_normalized, 'actions_normalized'),
    timing_ms: Object.fromEntries(
      Object.entries(timing ?? {}).flatMap(([k, v]) => (typeof v === 'number' ? [[k, v]] : [])),
    ),
  };
}

type Grounding = NonNullable<PredictResponse['grounding']>;

function box(v: WireValue | undefined): number[] | null {
  return Array.isArray(v) && v.length === 4 && v.every((x) => typeof x === 'number') ? (v as number[]) : null;
}

/** The reply's `grounding` (what the model's text grounder found), or null when it has none. */
function groundingOf(v: WireValue | undefined): Grounding | null {
  if (
    v === null ||
    v === undefined ||
    typeof v !== 'object' ||
    Array.isArray(v) ||
    v instanceof Uint8Array ||
    v instanceof NdArray
  ) {
    return null;
  }
  const g = v as { [k: string]: WireValue };
  return {
    object_found: g.object_found === true,
    object_score: typeof g.object_score === 'number' ? g.object_score : 0,
    object_box: box(g.object_box),
    matches: typeof g.matches === 'number' ? g.matches : 0,
    target_found: g.target_found === true,
    target_box: box(g.target_box),
    used: g.used === true,
    agrees: typeof g.agrees === 'boolean' ? g.agrees : null,
  };
}
