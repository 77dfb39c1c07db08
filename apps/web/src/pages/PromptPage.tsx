// Prompt: pick a dataset frame, draw prompts, type the instruction, predict, see the action chunk.
import { useMemo } from 'react';
import { Editor } from '../canvas/editor';
import { CanvasView } from '../canvas/view/CanvasView';
import { HelpOverlay, Toolbar } from '../canvas/view/Toolbar';
import { CanvasStatus } from '../canvas/view/CanvasStatus';
import { PromptList } from '../canvas/view/PromptList';
import { useScratchFrame } from '../canvas/view/scratchFrame';

export function PromptPage() {
  const editor = useMemo(() => new Editor({ width: 640, height: 480 }, 'point'), []);
  const frame = useScratchFrame();
  return (
    <section className="workspace" data-testid="page-prompt">
      <aside className="sidebar">
        <h3>Dataset</h3>
        <p className="muted">No dataset routes on this server yet: drawing on a scratch frame.</p>
      </aside>
      <div className="stage-col">
        <Toolbar editor={editor} />
        <CanvasView editor={editor} frame={frame} />
        <CanvasStatus editor={editor} />
      </div>
      <aside className="inspector">
        <PromptList editor={editor} />
      </aside>
      <HelpOverlay editor={editor} />
    </section>
  );
}
