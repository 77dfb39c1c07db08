import { useState } from 'react';
import { type FormValues, type ObjectSchema, parseField } from './schema';

/** A form generated from a flat object schema; invalid text keeps the last valid value and turns red. */
export function SchemaForm({
  schema,
  values,
  onChange,
}: {
  schema: ObjectSchema;
  values: FormValues;
  onChange: (v: FormValues) => void;
}) {
  const [text, setText] = useState<Record<string, string>>({});
  return (
    <div className="schema-form">
      {Object.entries(schema.properties).map(([key, f]) => {
        const v = values[key];
        const changed = v !== f.default;
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
                checked={Boolean(v)}
                onChange={(e) => onChange({ ...values, [key]: e.target.checked })}
              />
            </label>
          );
        }
        if (f.enum) {
          return (
            <label key={key} className="field">
              {label}
              <select
                value={String(v)}
                onChange={(e) =>
                  onChange({
                    ...values,
                    [key]: f.type === 'string' ? e.target.value : Number(e.target.value),
                  })
                }
              >
                {f.enum.map((o) => (
                  <option key={o}>{o}</option>
                ))}
              </select>
            </label>
          );
        }
        const shown = text[key] ?? String(v ?? '');
        const bad = text[key] !== undefined && parseField(f, text[key]) === null;
        return (
          <label key={key} className="field">
            {label}
            <input
              type="text"
              name={key}
              className={bad ? 'bad' : undefined}
              value={shown}
              placeholder={String(f.default)}
              onChange={(e) => {
                setText({ ...text, [key]: e.target.value });
                const parsed = parseField(f, e.target.value);
                if (parsed !== null) onChange({ ...values, [key]: parsed });
              }}
            />
          </label>
        );
      })}
    </div>
  );
}
