// Prediction requests: the frame (a dataset reference, or the pixels as JPEG), the instruction,
// and the prompts as browser tokens when the encoders agree, as prompt JSON otherwise.
import { api, type Schemas, toServerError } from './client';
import type { PromptJson } from '../canvas/io/prompts';
import type { Encoded } from '../encoder/client';

export type PredictResponse = Schemas['PredictResponse'];
export type FrameRef = Schemas['FrameRef'];

export interface PredictInput {
  frame: { ref: FrameRef } | { canvas: HTMLCanvasElement | ImageBitmap | HTMLImageElement };
  instruction: string;
  prompts: PromptJson[];
  /** Browser-encoded tokens, only when the browser encoder is the model's encoder. */
  tokens: Encoded | null;
  state?: number[];
}

export function frameToBase64Jpeg(
  src: HTMLCanvasElement | ImageBitmap | HTMLImageElement,
  quality = 0.92,
): string {
  const c = document.createElement('canvas');
  c.width = src.width;
  c.height = src.height;
  c.getContext('2d')!.drawImage(src, 0, 0);
  return c.toDataURL('image/jpeg', quality).split(',')[1]!;
}

export async function predict(input: PredictInput): Promise<PredictResponse> {
  const masks = input.prompts.flatMap((p) => (p.type === 'mask' ? [p.rle] : []));
  const body: Schemas['PredictRequest'] = {
    instruction: input.instruction,
    pixel_masks: masks.length > 0 ? masks.slice(0, 4) : null,
    state: input.state ?? null,
    ...('ref' in input.frame
      ? { frame_ref: input.frame.ref }
      : { image_b64: frameToBase64Jpeg(input.frame.canvas) }),
  };
  if (input.tokens) {
    const t = input.tokens.tokens;
    body.prompt_tokens = Array.from({ length: 16 }, (_, i) => Array.from(t.subarray(i * 256, (i + 1) * 256)));
    body.prompt_valid = Array.from(input.tokens.valid, (v) => v !== 0);
  } else {
    body.prompts = input.prompts as unknown as Schemas['PredictRequest']['prompts'];
  }
  const { data, error, response } = await api.POST('/v1/policy/predict', { body });
  if (error !== undefined || data === undefined) throw toServerError(response.status, error);
  return data;
}
