import { describe, expect, it } from 'vitest';
import { defaults, describeOverrides, type ObjectSchema, overrides, parseField, readForm } from './schema';

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

describe('reading the launch form', () => {
  const EVAL: ObjectSchema = {
    title: 'EvalConfig',
    properties: { episodes_per_cell: { type: 'integer', default: 10, minimum: 1, maximum: 1000 } },
    choices: {
      tasks: { title: 'tasks', options: ['pick', 'place', 'pick_ambiguous'], default: ['pick', 'place'] },
    },
  };

  it('an invalid text is an error, never a silent default', () => {
    const r = readForm(TRAIN_CONFIG_SCHEMA, { steps: 'abc', lr: '-3' });
    expect(r.errors).toEqual({ steps: '“abc” is not a number', lr: 'must be at least 0' });
    expect(r.overrides).toEqual({});
    expect(readForm(TRAIN_CONFIG_SCHEMA, { steps: '2.5' }).errors.steps).toBe('“2.5” is not a whole number');
    expect(readForm(TRAIN_CONFIG_SCHEMA, { steps: '' }).errors.steps).toBe('needs a value');
  });

  it('sends exactly what differs from the defaults', () => {
    const r = readForm(TRAIN_CONFIG_SCHEMA, { steps: '3', precision: 'fp32', lr: '0.0001' });
    expect(r.errors).toEqual({});
    expect(r.overrides).toEqual({ steps: 3, precision: 'fp32' });
    expect(describeOverrides(r.overrides)).toBe('steps=3, precision=fp32');
    expect(describeOverrides({})).toBe('none (every default)');
  });

  it('choice lists: defaults, a narrowed list in option order, none ticked is an error', () => {
    expect(readForm(EVAL, {}).lists.tasks).toEqual(['pick', 'place']);
    expect(readForm(EVAL, {}).overrides).toEqual({});
    expect(readForm(EVAL, { tasks: ['place', 'pick'] }).overrides).toEqual({});
    expect(readForm(EVAL, { tasks: ['pick_ambiguous', 'pick'] }).overrides).toEqual({
      tasks: ['pick', 'pick_ambiguous'],
    });
    expect(readForm(EVAL, { tasks: [] }).errors.tasks).toMatch(/choose at least one/);
  });
});
