import { describe, expect, it } from 'vitest';
import {
  NdArray,
  OBSERVATION_CEILINGS,
  encodeRle,
  packMessage,
  unpackMessage,
  type ObservationSpec,
  type WireValue,
} from '@pixelvla/model';
import type { PromptJson } from '../canvas/io/prompts';
import { observationOf, readReply } from './predict';

const square = (): PromptJson => {
  const m = new Uint8Array(8 * 8);
  m.fill(1, 0, 16);
  return { type: 'mask', rle: encodeRle({ height: 8, width: 8, data: m }) } as unknown as PromptJson;
};
const ref = { dataset: 'sim', episode: 0, frame: 3, camera: 'front' };
const tokens = { tokens: new Float32Array(16 * 256).fill(0.25), valid: new Uint8Array(16).fill(1), runMs: 1 };

describe('prediction requests travel as the policy stream does', () => {
  it('tokens are float32 bytes and the valid mask bool, in the shape of the served spec', async () => {
    const obs = await observationOf({
      frame: { ref },
      instruction: 'pick',
      prompts: [],
      tokens,
      state: [1, 2],
    });
    const back = unpackMessage(packMessage(obs)) as { [k: string]: WireValue };
    const t = back.prompt_tokens as NdArray<Float32Array>;
    expect(t.dtype).toBe('<f4');
    expect(t.shape).toEqual([...OBSERVATION_CEILINGS.prompt_tokens]);
    expect(Array.from(t.data.subarray(0, 3))).toEqual([0.25, 0.25, 0.25]);
    expect((back.prompt_valid as NdArray).dtype).toBe('|b1');
    expect((back.state as NdArray).dtype).toBe('<f4');
    expect(back.frame_ref).toEqual(ref);
    expect(back.prompts).toBeUndefined(); // the tokens replace the prompt JSON
  });

  it('a model with a text grounder gets the prompt JSON beside the tokens, to check it against the instruction', async () => {
    const point = { type: 'point', x: 0.5, y: 0.25, positive: true } as unknown as PromptJson;
    const obs = await observationOf({
      frame: { ref },
      instruction: 'pick',
      prompts: [point],
      tokens,
      alsoPrompts: true,
    });
    const back = unpackMessage(packMessage(obs)) as { [k: string]: WireValue };
    expect(back.prompt_tokens).toBeInstanceOf(NdArray);
    expect(back.prompts).toEqual([{ type: 'point', x: 0.5, y: 0.25, positive: true }]);
    const without = await observationOf({ frame: { ref }, instruction: 'pick', prompts: [point], tokens });
    expect(without.prompts).toBeUndefined();
  });

  it('pixel masks follow the served model’s limit, and prompt JSON goes when no tokens do', async () => {
    const spec: ObservationSpec = { ...OBSERVATION_CEILINGS, max_pixel_masks: 2 };
    const prompts = [square(), square(), square()];
    const obs = await observationOf({ frame: { ref }, instruction: 'pick', prompts, tokens: null, spec });
    expect((obs.pixel_masks as WireValue[]).length).toBe(2);
    expect((obs.prompts as WireValue[]).length).toBe(3);
    const ceil = await observationOf({ frame: { ref }, instruction: 'pick', prompts, tokens: null });
    expect((ceil.pixel_masks as WireValue[]).length).toBe(3);
  });

  it('the reply is read from its float32 arrays', () => {
    const actions = new NdArray(
      '<f4',
      [2, 7],
      Float32Array.from({ length: 14 }, (_, i) => i / 2),
    );
    const bytes = packMessage({
      type: 'actions',
      actions,
      actions_normalized: actions,
      model_id: 'demo',
      seq: null,
      timing_ms: { total: 3.5, forward: 2 },
    });
    const r = readReply(bytes);
    expect(r.model_id).toBe('demo');
    expect(r.actions).toHaveLength(2);
    expect(r.actions[1]).toEqual([3.5, 4, 4.5, 5, 5.5, 6, 6.5]);
    expect(r.timing_ms).toEqual({ total: 3.5, forward: 2 });
    expect(() => readReply(packMessage({ type: 'actions', actions: [[1, 2]] }))).toThrow(/float32/);
  });
});
