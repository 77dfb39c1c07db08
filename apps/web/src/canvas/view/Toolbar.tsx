// The toolbar and the shortcut help overlay, both generated from the TOOLS table.
import type { Editor } from '../editor';
import { COMMANDS, TOOLS } from '../tools';
import { useEditorState } from './useEditor';

export function Toolbar({ editor }: { editor: Editor }) {
  const tool = useEditorState(editor, (s) => s.tool);
  const canUndo = useEditorState(editor, (s) => s.canUndo);
  const canRedo = useEditorState(editor, (s) => s.canRedo);
  const radius = useEditorState(editor, (s) => s.brushRadius);
  const scale = useEditorState(editor, (s) => s.viewport.scale);
  let group = '';
  return (
    <div className="toolbar" role="toolbar" aria-label="Drawing tools">
      {TOOLS.map((t) => {
        const sep = group !== '' && group !== t.group;
        group = t.group;
        return (
          <span key={t.id} className="tool-wrap">
            {sep && <span className="sep" aria-hidden />}
            <button
              type="button"
              className="tool"
              data-testid={`tool-${t.id}`}
              aria-pressed={tool === t.id}
              title={`${t.label} (${t.key.toUpperCase()}): ${t.hint}`}
              onClick={() => editor.setTool(t.id)}
            >
              <svg className="glyph" viewBox="0 0 24 24" aria-hidden>
                <path d={t.icon} />
              </svg>
              <kbd>{t.key.toUpperCase()}</kbd>
            </button>
          </span>
        );
      })}
      <span className="sep" aria-hidden />
      <label className="brush-size" title="Brush radius in frame pixels ([ and ])">
        <span>⌀</span>
        <input
          type="range"
          min={1}
          max={60}
          value={Math.round(radius)}
          onChange={(e) => editor.setBrushRadius(Number(e.target.value))}
          aria-label="Brush radius"
        />
        <span className="num">{Math.round(radius)}</span>
      </label>
      <span className="sep" aria-hidden />
      <button
        type="button"
        className="tool"
        onClick={() => editor.undo()}
        disabled={!canUndo}
        title="Undo (Ctrl+Z)"
      >
        ↶
      </button>
      <button
        type="button"
        className="tool"
        onClick={() => editor.redo()}
        disabled={!canRedo}
        title="Redo (Ctrl+Shift+Z)"
      >
        ↷
      </button>
      <button type="button" className="tool" onClick={() => editor.fitView()} title="Fit the frame (Shift+1)">
        ⤢
      </button>
      <span className="zoom num" title="Zoom">
        {Math.round(scale * 100)}%
      </span>
      <button type="button" className="tool" onClick={() => editor.toggleHelp()} title="Shortcuts (?)">
        ?
      </button>
    </div>
  );
}

export function HelpOverlay({ editor }: { editor: Editor }) {
  const open = useEditorState(editor, (s) => s.helpOpen);
  if (!open) return null;
  return (
    <div
      className="help"
      role="dialog"
      aria-label="Keyboard shortcuts"
      onClick={() => editor.toggleHelp(false)}
    >
      <div className="help-card" onClick={(e) => e.stopPropagation()}>
        <h3>Shortcuts</h3>
        <table>
          <tbody>
            {TOOLS.map((t) => (
              <tr key={t.id}>
                <td>
                  <kbd>{t.key.toUpperCase()}</kbd>
                </td>
                <td>{t.label}</td>
                <td className="muted">{t.hint}</td>
              </tr>
            ))}
            {COMMANDS.map((c) => (
              <tr key={c.keys}>
                <td>
                  <kbd>{c.keys}</kbd>
                </td>
                <td colSpan={2}>{c.label}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
