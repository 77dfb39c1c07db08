import type { Editor } from '../editor';
import { useEditorState } from './useEditor';
import { BOX, LINE, NEGATIVE, POSITIVE } from './colors';
import type { Shape } from '../shapes';

const describe = (s: Shape): [string, string, string] => {
  switch (s.kind) {
    case 'point':
      return [
        s.positive ? 'point +' : 'point −',
        s.positive ? POSITIVE : NEGATIVE,
        `${s.x.toFixed(3)}, ${s.y.toFixed(3)}`,
      ];
    case 'box':
      return ['box', BOX, `${(s.x1 - s.x0).toFixed(2)}×${(s.y1 - s.y0).toFixed(2)}`];
    case 'line':
      return [s.points.length > 2 ? 'polyline' : 'line', LINE, `${s.points.length} pts`];
    case 'mask':
      return ['mask', '#ff4fa3', `rev ${s.rev}`];
  }
};

/** The prompts on the canvas, in draw order; click selects, the × deletes. */
export function PromptList({ editor }: { editor: Editor }) {
  const order = useEditorState(editor, (s) => s.order);
  const shapes = useEditorState(editor, (s) => s.shapes);
  const selected = useEditorState(editor, (s) => s.selected);
  return (
    <div>
      <h3>Prompts ({order.length})</h3>
      {order.length === 0 && (
        <p className="muted">Nothing drawn. P point, B box, L line, M mask — ? for all keys.</p>
      )}
      <ul className="prompt-list" data-testid="prompt-list">
        {order.map((id) => {
          const s = shapes[id]!;
          const [label, color, detail] = describe(s);
          return (
            <li
              key={id}
              aria-selected={selected.includes(id)}
              onClick={() => editor.select([id])}
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
                  editor.deleteShapes([id]);
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
