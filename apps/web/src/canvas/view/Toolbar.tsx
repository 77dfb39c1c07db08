// The toolbar (from the TOOLS table) and the shortcut help overlay (from the canvas command
// table, which is also what the keyboard dispatches through).
import { type Command, type HelpRow, helpRows } from '../../app/commands';
import type { Editor } from '../editor';
import { toolSpecs } from '../tools';
import { GESTURES, canvasCommands, keysOf } from '../commands';
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
      {toolSpecs().map((t) => {
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
        title={`Undo (${keysOf('undo')})`}
      >
        ↶
      </button>
      <button
        type="button"
        className="tool"
        onClick={() => editor.redo()}
        disabled={!canRedo}
        title={`Redo (${keysOf('redo')})`}
      >
        ↷
      </button>
      <button
        type="button"
        className="tool"
        onClick={() => editor.fitView()}
        title={`Fit the frame (${keysOf('fit')})`}
      >
        ⤢
      </button>
      <span className="zoom num" title="Zoom">
        {Math.round(scale * 100)}%
      </span>
      <button
        type="button"
        className="tool"
        onClick={() => editor.toggleHelp()}
        title={`Shortcuts (${keysOf('help')})`}
      >
        ?
      </button>
    </div>
  );
}

/**
 * The shortcut help: every row of the canvas command table, then `extra` (a page's own
 * commands, e.g. frame stepping), then the pointer gestures.
 */
export function HelpOverlay({ editor, extra = [] }: { editor: Editor; extra?: readonly Command<never>[] }) {
  const open = useEditorState(editor, (s) => s.helpOpen);
  if (!open) return null;
  return <HelpCard rows={helpFor(extra)} onClose={() => editor.toggleHelp(false)} />;
}

/** The help's rows: the canvas command table, then a page's own commands. */
export const helpFor = (extra: readonly Command<never>[] = []): HelpRow[] =>
  helpRows([...canvasCommands(), ...extra]);

export function HelpCard({ rows, onClose }: { rows: readonly HelpRow[]; onClose: () => void }) {
  return (
    <div className="help" role="dialog" aria-label="Keyboard shortcuts" onClick={onClose}>
      <div className="help-card" onClick={(e) => e.stopPropagation()}>
        <h3>Shortcuts</h3>
        <table>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id} data-command={r.id}>
                <td>
                  <kbd>{r.keys}</kbd>
                </td>
                {r.hint ? (
                  <>
                    <td>{r.label}</td>
                    <td className="muted">{r.hint}</td>
                  </>
                ) : (
                  <td colSpan={2}>{r.label}</td>
                )}
              </tr>
            ))}
            {GESTURES.map((g) => (
              <tr key={g.keys}>
                <td>
                  <kbd>{g.keys}</kbd>
                </td>
                <td colSpan={2}>{g.label}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
