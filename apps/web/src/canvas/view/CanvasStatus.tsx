import type { Editor } from '../editor';
import { useEditorState } from './useEditor';

/** The strip under the canvas: tool state, cursor position in frame pixels, frame size. */
export function CanvasStatus({ editor, children }: { editor: Editor; children?: React.ReactNode }) {
  const path = useEditorState(editor, (s) => s.path);
  const cursor = useEditorState(editor, (s) => s.cursor);
  const size = useEditorState(editor, (s) => s.imageSize);
  return (
    <div className="canvas-status">
      <span data-testid="tool-path">{path}</span>
      <span className="num">{cursor ? `x ${Math.floor(cursor.x)}  y ${Math.floor(cursor.y)}` : '—'}</span>
      <span className="num">
        {size.width}×{size.height}
      </span>
      <span className="right">{children}</span>
    </div>
  );
}
