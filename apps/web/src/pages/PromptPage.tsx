// Prompt: pick a frame, draw prompts, type the instruction, predict, see the action chunk over
// the frame and in a table. The prompt encoder runs live in the browser as you draw.
import { useEffect, useMemo, useRef, useState } from 'react';
import { useMutation } from '@tanstack/react-query';
import { Editor } from '../canvas/editor';
import { CanvasView, type FrameSource } from '../canvas/view/CanvasView';
import { HelpOverlay, Toolbar } from '../canvas/view/Toolbar';
import { CanvasStatus } from '../canvas/view/CanvasStatus';
import { PromptList } from '../canvas/view/PromptList';
import { useScratchFrame } from '../canvas/view/scratchFrame';
import { useEditorState } from '../canvas/view/useEditor';
import { exportPrompts, importPrompts } from '../canvas/io/prompts';
import { useEncoder } from '../encoder/useEncoder';
import { EncoderBadge, encoderMatches } from '../encoder/EncoderBadge';
import { useMeta } from '../api/queries';
import { predict, type PredictResponse } from '../api/predict';
import { ActionOverlay } from '../actions/ActionOverlay';
import { ActionTable } from '../actions/ActionTable';
import { schematicPath } from '../actions/path';
import type { Vec } from '../canvas/geometry';

export function PromptPage() {
  const editor = useMemo(() => new Editor({ width: 640, height: 480 }, 'point'), []);
  const scratch = useScratchFrame();
  const [uploaded, setUploaded] = useState<{ name: string; bitmap: ImageBitmap } | null>(null);
  const frame: FrameSource = uploaded?.bitmap ?? scratch;
  const frameName = uploaded?.name ?? 'scratch frame';
  return (
    <section className="workspace" data-testid="page-prompt">
      <aside className="sidebar">
        <h3>Frame</h3>
        <div className="list">
          <button type="button" aria-current={!uploaded} onClick={() => setUploaded(null)}>
            Scratch frame<span className="sub">a drawn tabletop, 640×480</span>
          </button>
          <label className="row" style={{ padding: '5px 8px', cursor: 'pointer' }}>
            <span>Open image…</span>
            <input
              type="file"
              accept="image/*"
              style={{ display: 'none' }}
              onChange={async (e) => {
                const f = e.target.files?.[0];
                if (f) setUploaded({ name: f.name, bitmap: await createImageBitmap(f) });
              }}
            />
          </label>
          {uploaded && (
            <button type="button" aria-current>
              {uploaded.name}
              <span className="sub">
                {uploaded.bitmap.width}×{uploaded.bitmap.height}
              </span>
            </button>
          )}
        </div>
        <h3>Datasets</h3>
        <p className="muted" style={{ fontSize: 12 }}>
          This server does not serve datasets yet (no /v1/datasets).
        </p>
      </aside>
      <PromptWorkbench editor={editor} frame={frame} frameName={frameName} />
      <HelpOverlay editor={editor} />
    </section>
  );
}

function PromptWorkbench({
  editor,
  frame,
  frameName,
}: {
  editor: Editor;
  frame: FrameSource;
  frameName: string;
}) {
  const [encoder, encStatus] = useEncoder();
  const meta = useMeta();
  const serverHash = meta.data?.model?.encoder_hash;
  const shapes = useEditorState(editor, (s) => s.shapes);
  const order = useEditorState(editor, (s) => s.order);
  const [instruction, setInstruction] = useState('pick up the red block');
  const [result, setResult] = useState<PredictResponse | null>(null);
  const [ioError, setIoError] = useState<string | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  // Live encode as the drawing changes (latest wins inside the client).
  useEffect(() => {
    encoder.encode(exportPrompts(editor)).catch(() => {});
  }, [encoder, editor, shapes, order]);

  const run = useMutation({
    mutationFn: async () => {
      const prompts = exportPrompts(editor);
      const tokens = encoderMatches(encStatus, serverHash) ? await encoder.encode(prompts) : null;
      return predict({ frame: { canvas: frame }, instruction, prompts, tokens });
    },
    onSuccess: setResult,
  });

  const anchor = useMemo<Vec>(() => {
    const first = order.map((id) => shapes[id]!).find((s) => s.kind !== 'mask');
    if (first?.kind === 'point') return first;
    if (first?.kind === 'box') return { x: (first.x0 + first.x1) / 2, y: (first.y0 + first.y1) / 2 };
    if (first?.kind === 'line') return first.points[0]!;
    return { x: 0.5, y: 0.5 };
  }, [shapes, order]);
  const path = result ? schematicPath(anchor, result.actions_normalized) : null;

  return (
    <>
      <div className="stage-col">
        <Toolbar editor={editor} />
        <CanvasView
          editor={editor}
          frame={frame}
          overlay={
            path
              ? (toScreen) => (
                  <ActionOverlay path={path} toScreen={toScreen} label="schematic (no camera model)" />
                )
              : undefined
          }
        />
        <CanvasStatus editor={editor}>{frameName}</CanvasStatus>
      </div>
      <aside className="inspector">
        <EncoderBadge status={encStatus} serverHash={serverHash} />
        <div>
          <h3>Instruction</h3>
          <textarea
            data-testid="instruction"
            rows={2}
            style={{ width: '100%', resize: 'vertical' }}
            value={instruction}
            onChange={(e) => setInstruction(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) run.mutate();
            }}
          />
          <div className="row" style={{ marginTop: 6 }}>
            <button
              type="button"
              className="primary"
              data-testid="predict"
              onClick={() => run.mutate()}
              disabled={run.isPending}
            >
              {run.isPending ? 'Predicting…' : 'Predict'}
            </button>
            <kbd>Ctrl+Enter</kbd>
            <span className="grow" />
            {result && (
              <span
                className="num muted"
                title={Object.entries(result.timing_ms)
                  .map(([k, v]) => `${k} ${v.toFixed(1)} ms`)
                  .join('\n')}
              >
                {result.timing_ms.total?.toFixed(0)} ms
              </span>
            )}
          </div>
          {run.isError && (
            <div className="errbox" style={{ marginTop: 6 }}>
              {run.error.message}
            </div>
          )}
        </div>
        {result && (
          <div data-testid="prediction">
            <h3>
              Action chunk ({result.actions.length}×{result.actions[0]?.length ?? 0}) ·{' '}
              {result.model_id.slice(0, 10)}
            </h3>
            <ActionTable predicted={result.actions} />
          </div>
        )}
        <PromptList editor={editor} />
        <div className="row">
          <button
            type="button"
            onClick={() => {
              const blob = new Blob([JSON.stringify(exportPrompts(editor), null, 1)], {
                type: 'application/json',
              });
              const a = document.createElement('a');
              a.href = URL.createObjectURL(blob);
              a.download = 'prompts.json';
              a.click();
              URL.revokeObjectURL(a.href);
            }}
          >
            Export JSON
          </button>
          <button type="button" onClick={() => fileInput.current?.click()}>
            Import…
          </button>
          <input
            ref={fileInput}
            type="file"
            accept="application/json"
            style={{ display: 'none' }}
            onChange={async (e) => {
              const f = e.target.files?.[0];
              if (!f) return;
              try {
                importPrompts(editor, JSON.parse(await f.text()));
                setIoError(null);
              } catch (err) {
                setIoError(err instanceof Error ? err.message : String(err));
              }
              e.target.value = '';
            }}
          />
        </div>
        {ioError && <div className="errbox">{ioError}</div>}
      </aside>
    </>
  );
}
