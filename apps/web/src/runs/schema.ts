// A small JSON-Schema subset for run configuration forms: flat objects whose properties are
// numbers, integers, strings, booleans or enums, each with a default. The form sends only the
// fields that differ from their defaults, as `overrides`.
export interface FieldSchema {
  readonly type: 'number' | 'integer' | 'string' | 'boolean';
  readonly default: number | string | boolean | null;
  readonly title?: string;
  readonly description?: string;
  readonly enum?: readonly (string | number)[];
  readonly minimum?: number;
  readonly maximum?: number;
}

export interface ObjectSchema {
  readonly title?: string;
  readonly properties: Readonly<Record<string, FieldSchema>>;
}

export type FormValues = Record<string, number | string | boolean | null>;

export function defaults(schema: ObjectSchema): FormValues {
  return Object.fromEntries(Object.entries(schema.properties).map(([k, f]) => [k, f.default]));
}

/** Fields that differ from the schema's defaults (what a run's config.json must record). */
export function overrides(schema: ObjectSchema, values: FormValues): FormValues {
  return Object.fromEntries(
    Object.entries(values).filter(([k, v]) => schema.properties[k] && schema.properties[k].default !== v),
  );
}

/** Parses a text input into the field's type; null when it is not valid. */
export function parseField(f: FieldSchema, text: string): number | string | null {
  if (f.type === 'string') return text;
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) return null;
  if (f.type === 'integer' && !Number.isInteger(v)) return null;
  if (f.minimum !== undefined && v < f.minimum) return null;
  if (f.maximum !== undefined && v > f.maximum) return null;
  return v;
}

/**
 * The training config the form shows until the server publishes its own schema: it mirrors
 * pixelvla.train.config.TrainConfig (defaults included) for the fields a person tunes.
 */
export const TRAIN_CONFIG_SCHEMA: ObjectSchema = {
  title: 'TrainConfig',
  properties: {
    steps: { type: 'integer', default: 2000, minimum: 1, description: 'optimizer steps' },
    batch_size: { type: 'integer', default: 32, minimum: 1 },
    lr: { type: 'number', default: 1e-4, minimum: 0, description: 'new modules and heads' },
    lora_lr: { type: 'number', default: 5e-4, minimum: 0, description: 'LoRA adapters (stage 2)' },
    weight_decay: { type: 'number', default: 0, minimum: 0 },
    warmup_steps: { type: 'integer', default: 100, minimum: 0 },
    grad_clip: { type: 'number', default: 1, minimum: 0 },
    seed: { type: 'integer', default: 0, minimum: 0 },
    precision: { type: 'string', default: 'auto', enum: ['auto', 'fp32', 'bf16'] },
    log_every: { type: 'integer', default: 10, minimum: 1 },
    checkpoint_every: { type: 'integer', default: 250, minimum: 1 },
    pixel_mask_drop: { type: 'number', default: 0.1, minimum: 0, maximum: 1, description: 'stage 2' },
    tensorboard: { type: 'boolean', default: true },
  },
};
