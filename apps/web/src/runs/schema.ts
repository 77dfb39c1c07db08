import type { Schemas } from '../api/client';

// A small JSON-Schema subset for run configuration forms: flat objects whose properties are
// numbers, integers, strings, booleans or enums, each with a default, plus list-valued `choices`
// (an eval's tasks and prompt types). The form sends only the fields that differ from their
// defaults, as `overrides`.
// The server publishes it per stage (GET /v1/runs/config-schema: TrainConfig or EvalConfig), so the
// form cannot drift from what the training process accepts.
export type FieldSchema = Schemas['ConfigField'];
export type ObjectSchema = Schemas['ConfigSchema'];
export type ChoiceSchema = Schemas['ChoiceField'];

export type FieldValue = number | string | boolean | null;
export type FormValues = Record<string, FieldValue>;
export type Overrides = Record<string, FieldValue | string[]>;
/** What the person has entered: text of text fields, checkbox states, enum picks, ticked choices. */
export type RawForm = Record<string, string | boolean | readonly string[]>;

export function defaults(schema: ObjectSchema): FormValues {
  return Object.fromEntries(Object.entries(schema.properties).map(([k, f]) => [k, f.default]));
}

/** Fields that differ from the schema's defaults: the request's `overrides` (the server applies them to the run's train_config.json). */
export function overrides(schema: ObjectSchema, values: FormValues): FormValues {
  return Object.fromEntries(
    Object.entries(values).filter(([k, v]) => schema.properties[k] && schema.properties[k].default !== v),
  );
}

/** Why a text is not a valid value of the field, or null when it is. */
export function fieldError(f: FieldSchema, text: string): string | null {
  if (f.type === 'string') return null;
  const v = Number(text);
  if (text.trim() === '') return 'needs a value';
  if (!Number.isFinite(v)) return `“${text}” is not a number`;
  if (f.type === 'integer' && !Number.isInteger(v)) return `“${text}” is not a whole number`;
  if (f.minimum != null && v < f.minimum) return `must be at least ${f.minimum}`;
  if (f.maximum != null && v > f.maximum) return `must be at most ${f.maximum}`;
  return null;
}

/** Parses a text input into the field's type; null when it is not valid. */
export function parseField(f: FieldSchema, text: string): number | string | null {
  if (fieldError(f, text) !== null) return null;
  return f.type === 'string' ? text : Number(text);
}

export interface FormRead {
  readonly values: FormValues;
  /** Ticked items of each choice field, in the schema's option order. */
  readonly lists: Record<string, string[]>;
  /** Exactly what the launch request carries: fields and lists that differ from the defaults. */
  readonly overrides: Overrides;
  /** Field key -> why its input is not valid. A form with any error cannot launch. */
  readonly errors: Record<string, string>;
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((x) => b.includes(x));

/** The form's values, overrides and errors from what was entered (`raw` holds only edited fields). */
export function readForm(schema: ObjectSchema, raw: RawForm): FormRead {
  const values: FormValues = {};
  const out: Overrides = {};
  const errors: Record<string, string> = {};
  for (const [key, f] of Object.entries(schema.properties)) {
    const r = raw[key];
    let v: FieldValue = f.default;
    if (typeof r === 'boolean') v = r;
    else if (typeof r === 'string') {
      const err = f.enum ? null : fieldError(f, r);
      if (err) errors[key] = err;
      else v = f.type === 'string' ? r : Number(r);
    }
    values[key] = v;
    if (!(key in errors) && v !== f.default) out[key] = v;
  }
  const lists: Record<string, string[]> = {};
  for (const [key, c] of Object.entries(schema.choices ?? {})) {
    const r = raw[key];
    const ticked = Array.isArray(r) ? c.options.filter((o) => r.includes(o)) : [...c.default];
    lists[key] = ticked;
    if (ticked.length === 0) errors[key] = `choose at least one of ${c.options.join(', ')}`;
    else if (!sameSet(ticked, c.default)) out[key] = ticked;
  }
  return { values, lists, overrides: out, errors };
}

/** "steps=3, batch_size=2, tasks=[pick]": overrides as the launch summary shows them. */
export function describeOverrides(o: Overrides): string {
  const parts = Object.entries(o).map(
    ([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(', ')}]` : String(v)}`,
  );
  return parts.length > 0 ? parts.join(', ') : 'none (every default)';
}
