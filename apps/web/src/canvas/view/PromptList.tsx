import type { Editor } from '../editor';
import type { ShapeBase } from '../shapes';
import { kindOf } from '../kinds';
import { useEditorState } from './useEditor';

/** The prompts on the canvas, in draw order; click selects, the × deletes. */
export function PromptList({ editor }: { editor: Editor }) {
  const order = useEditorState(editor, (s) => s.order);
  const shapes = useEditorState(editor, (s) => s.shapes);
  const selected = useEditorState(editor, (s) => s.selected);
  return (
    <PromptRows
      shapes={order.map((id) => shapes[id]!)}
      selected={selected}
      onSelect={(id) => editor.select([id])}
      onDelete={(id) => editor.deleteShapes([id])}
    />
  );
}

interface RowsProps {
  shapes: readonly ShapeBase[];
  selected: readonly string[];
  onSelect: (id: string) => void;
  onDelete: (id: string) => void;
}

/** The list itself, from records: each row is its kind's entry (label, swatch, detail). */
export function PromptRows({ shapes, selected, onSelect, onDelete }: RowsProps) {
  return (
    <div>
      <h3>Prompts ({shapes.length})</h3>
      {shapes.length === 0 && (
        <p className="muted">Nothing drawn. P point, B box, L line, M mask — ? for all keys.</p>
      )}
      <ul className="prompt-list" data-testid="prompt-list">
        {shapes.map((s) => {
          const { label, color, detail } = kindOf(s).entry(s);
          return (
            <li
              key={s.id}
              aria-selected={selected.includes(s.id)}
              onClick={() => onSelect(s.id)}
              data-kind={s.kind}
            >
              <span className="swatch" style={{ background: color }} />
              <span>{label}</span>
              <span className="coords num">{detail}</span>
              <button
                type="button"
                title="Delete"
                style={{ padding: '0 6px' }}
                onClick={(e) => {
                  e.stopPropagation();
                  onDelete(s.id);
                }}
              >
                ×
              </button>
            </li>
          );
        })}
      </ul>
    </div>
  );
}
