import type { Schemas } from '../api/client';

// A small JSON-Schema subset for run configuration forms: flat objects whose properties are
// numbers, integers, strings, booleans or enums, each with a default. The form sends only the
// fields that differ from their defaults, as `overrides`.
// The server publishes it per stage (GET /v1/runs/config-schema: TrainConfig or EvalConfig), so the
// form cannot drift from what the training process accepts.
export type FieldSchema = Schemas['ConfigField'];
export type ObjectSchema = Schemas['ConfigSchema'];

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
  if (f.minimum != null && v < f.minimum) return null;
  if (f.maximum != null && v > f.maximum) return null;
  return v;
}
