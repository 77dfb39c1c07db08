import { type FormRead, type ObjectSchema, type RawForm } from './schema';

/**
 * A form generated from a flat object schema, controlled by what was entered (`raw`). An invalid
 * text stays as typed, turns red and says why under the field; the launch button reads the same
 * `read.errors` and stays disabled, so a red field can never launch with a default behind it.
 */
export function SchemaForm({
  schema,
  raw,
  read,
  onChange,
}: {
  schema: ObjectSchema;
  raw: RawForm;
  read: FormRead;
  onChange: (raw: RawForm) => void;
}) {
  return (
    <div className="schema-form">
      {Object.entries(schema.choices ?? {}).map(([key, c]) => {
        const ticked = read.lists[key] ?? [];
        const err = read.errors[key];
        return (
          <fieldset key={key} className="field choices" data-field={key}>
            <legend title={c.description ?? undefined}>{c.title}</legend>
            {c.options.map((o) => (
              <label key={o} className="choice">
                <input
                  type="checkbox"
                  name={`${key}:${o}`}
                  checked={ticked.includes(o)}
                  onChange={(e) =>
                    onChange({
                      ...raw,
                      [key]: e.target.checked ? [...ticked, o] : ticked.filter((x) => x !== o),
                    })
                  }
                />
                {o}
              </label>
            ))}
            {err && <span className="field-error">{err}</span>}
          </fieldset>
        );
      })}
      {Object.entries(schema.properties).map(([key, f]) => {
        const v = read.values[key];
        const err = read.errors[key];
        const changed = err === undefined && v !== f.default;
        const label = (
          <span className={changed ? 'changed' : undefined} title={f.description ?? undefined}>
            {f.title ?? key}
          </span>
        );
        if (f.type === 'boolean') {
          return (
            <label key={key} className="field">
              {label}
              <input
                type="checkbox"
                name={key}
                checked={Boolean(v)}
                onChange={(e) => onChange({ ...raw, [key]: e.target.checked })}
              />
            </label>
          );
        }
        if (f.enum) {
          return (
            <label key={key} className="field">
              {label}
              <select
                name={key}
                value={String(v)}
                onChange={(e) => onChange({ ...raw, [key]: e.target.value })}
              >
                {f.enum.map((o) => (
                  <option key={o}>{o}</option>
                ))}
              </select>
            </label>
          );
        }
        const r = raw[key];
        const shown = typeof r === 'string' ? r : String(v ?? '');
        return (
          <label key={key} className="field">
            {label}
            <input
              type="text"
              name={key}
              className={err ? 'bad' : undefined}
              aria-invalid={err ? true : undefined}
              value={shown}
              placeholder={String(f.default)}
              onChange={(e) => onChange({ ...raw, [key]: e.target.value })}
            />
            {err && (
              <span className="field-error" data-testid={`field-error-${key}`}>
                {err}
              </span>
            )}
          </label>
        );
      })}
    </div>
  );
}
