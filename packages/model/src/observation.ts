// The observation contract, the TypeScript side: the GPU server publishes the served model's spec
// (GET /v1/meta `model.observation`, the policy stream's metadata); these are the server-wide
// ceilings every spec is within (pixelvla/observation.py), what a client uses before it knows the
// model. testdata/observation_spec.json pins both languages to the same numbers
// (observation.test.ts here, tests/test_observation.py and the server's test_policy.py there).
import { MAX_MASKS, MAX_TOKENS } from './prompts';
import { MAX_SIDE } from './rle';
import { TOKEN_DIM } from './runner-core';

/** What one observation may hold for one model (the server's ObservationSpec, same field names). */
export interface ObservationSpec {
  /** The model's input side; any frame within max_image_side is resized to it. */
  readonly image_size: number;
  readonly cameras: number;
  readonly max_image_side: number;
  readonly max_instruction_chars: number;
  /** [N_s, dim] of prompt_tokens (float32); prompt_valid is bool [N_s]. */
  readonly prompt_tokens: readonly [number, number] | readonly number[];
  readonly max_prompts: number;
  readonly max_prompt_masks: number;
  readonly max_pixel_masks: number;
  readonly max_mask_side: number;
  /** State values the model takes; 0: none (a state sent is then unused). */
  readonly state_dim: number;
  readonly max_state_values: number;
}

export const MAX_IMAGE_SIDE = 2048;
export const MAX_INSTRUCTION_CHARS = 1000;
export const MAX_PIXEL_MASKS = 4;
export const MAX_STATE_VALUES = 64;

/** The ceilings (the server's ObservationSpec() defaults). */
export const OBSERVATION_CEILINGS: ObservationSpec = Object.freeze({
  image_size: 224,
  cameras: 1,
  max_image_side: MAX_IMAGE_SIDE,
  max_instruction_chars: MAX_INSTRUCTION_CHARS,
  prompt_tokens: Object.freeze([MAX_TOKENS, TOKEN_DIM] as const),
  max_prompts: MAX_TOKENS,
  max_prompt_masks: MAX_MASKS,
  max_pixel_masks: MAX_PIXEL_MASKS,
  max_mask_side: MAX_SIDE,
  state_dim: 0,
  max_state_values: MAX_STATE_VALUES,
});
