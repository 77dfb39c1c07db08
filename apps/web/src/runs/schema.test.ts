import { describe, expect, it } from 'vitest';
import { defaults, overrides, parseField, TRAIN_CONFIG_SCHEMA } from './schema';

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
