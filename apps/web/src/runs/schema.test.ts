import { describe, expect, it } from 'vitest';
import { defaults, type ObjectSchema, overrides, parseField } from './schema';

// The shape GET /v1/runs/config-schema answers with (a subset of TrainConfig's fields).
const TRAIN_CONFIG_SCHEMA: ObjectSchema = {
  title: 'TrainConfig',
  properties: {
    steps: { type: 'integer', default: 2000, minimum: 1 },
    lr: { type: 'number', default: 1e-4, minimum: 0 },
    precision: { type: 'string', default: 'auto', enum: ['auto', 'fp32', 'bf16'] },
    pixel_mask_drop: { type: 'number', default: 0.1, minimum: 0, maximum: 1, description: null },
  },
};

describe('run config form schema', () => {
  it('starts from the defaults and sends only what changed', () => {
    const v = defaults(TRAIN_CONFIG_SCHEMA);
    expect(v.steps).toBe(2000);
    expect(overrides(TRAIN_CONFIG_SCHEMA, v)).toEqual({});
    expect(overrides(TRAIN_CONFIG_SCHEMA, { ...v, steps: 20, precision: 'fp32' })).toEqual({
      steps: 20,
      precision: 'fp32',
    });
  });

  it('parses text by field type and bounds', () => {
    const p = TRAIN_CONFIG_SCHEMA.properties;
    expect(parseField(p.steps!, '12')).toBe(12);
    expect(parseField(p.steps!, '1.5')).toBeNull();
    expect(parseField(p.steps!, '0')).toBeNull();
    expect(parseField(p.lr!, '3e-4')).toBeCloseTo(3e-4);
    expect(parseField(p.pixel_mask_drop!, '2')).toBeNull();
    expect(parseField(p.lr!, '')).toBeNull();
  });
});
