import { describe, expect, it } from 'vitest';
import { OBSERVATION_CEILINGS, type ObservationSpec } from './observation';
import { readTestdata } from './testdata';

const pinned = readTestdata<{ ceilings: ObservationSpec; tiny: ObservationSpec }>('observation_spec.json');

describe('observation spec', () => {
  it('the ceilings are the server’s (testdata/observation_spec.json, from pixelvla/observation.py)', () => {
    expect({ ...OBSERVATION_CEILINGS, prompt_tokens: [...OBSERVATION_CEILINGS.prompt_tokens] }).toEqual(
      pinned.ceilings,
    );
  });

  it('a served spec has every field the TS type names, within the ceilings', () => {
    expect(Object.keys(pinned.tiny).sort()).toEqual(Object.keys(OBSERVATION_CEILINGS).sort());
    expect(pinned.tiny.max_pixel_masks).toBeLessThanOrEqual(OBSERVATION_CEILINGS.max_pixel_masks);
    expect(pinned.tiny.max_image_side).toBeLessThanOrEqual(OBSERVATION_CEILINGS.max_image_side);
  });
});
