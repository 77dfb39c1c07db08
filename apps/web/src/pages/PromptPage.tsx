// Prompt: pick a frame, draw prompts, type the instruction, predict, see the action chunk over
// the frame and in a table. The prompt encoder runs live in the browser as you draw.
import { type ReactNode, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useMutation } from '@tanstack/react-query';
import { Editor } from '../canvas/editor';
import { kindOf } from '../canvas/kinds';
import { type KeyInfo, useShortcutKeys } from '../app/keys';
import { type Command, dispatchKey } from '../app/commands';
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
import {
  type EpisodeData,
  frameUrl,
  loadImage,
  useAnnotations,
  useEpisode,
  useEpisodes,
  useDatasets,
} from '../api/datasets';
import { AnnotationPanel } from './AnnotationPanel';
import { predict, type PredictResponse } from '../api/predict';
import { ActionOverlay } from '../actions/ActionOverlay';
import { ActionTable } from '../actions/ActionTable';
import { projectedPath, schematicPath, sidecarCamera } from '../actions/path';
import type { Vec } from '../canvas/geometry';

export interface DatasetFrame {
  readonly dataset: string;
  readonly episode: number;
  readonly t: number;
  readonly camera: string;
}

/** The page's own shortcuts, listed in the help after the canvas's. */
const FRAME_COMMANDS: readonly Command<(delta: number) => void>[] = [
  { id: 'frame-next', keys: ['F'], label: 'Next frame of the episode', perform: (step) => step(1) },
  { id: 'frame-previous', keys: ['D'], label: 'Previous frame of the episode', perform: (step) => step(-1) },
];

export function PromptPage() {
  const editor = useMemo(() => new Editor({ width: 640, height: 480 }, 'point'), []);
  const scratch = useScratchFrame();
  const [uploaded, setUploaded] = useState<{ name: string; bitmap: ImageBitmap } | null>(null);
  const [sel, setSel] = useState<DatasetFrame | null>(null);
  const datasets = useDatasets();
  const episodes = useEpisodes(sel?.dataset ?? null);
  const episode = useEpisode(sel?.dataset ?? null, sel?.episode ?? null);
  const [datasetImage, setDatasetImage] = useState<HTMLImageElement | null>(null);
  const [frameError, setFrameError] = useState<string | null>(null);

  useEffect(() => {
    if (!sel) return;
    let live = true;
    loadImage(frameUrl(sel.dataset, sel.episode, sel.t, sel.camera)).then(
      (img) => {
        if (!live) return;
        setDatasetImage(img);
        setFrameError(null);
      },
      () => live && setFrameError(`could not load frame ${sel.t}`),
    );
    return () => {
      live = false;
    };
  }, [sel]);

  // F / D step through the episode's frames (the canvas keeps the prompts: they are normalised).
  const length = episode.data?.length ?? 0;
  const stepFrames = useCallback(
    (e: KeyInfo): boolean => {
      if (!sel) return false;
      const step = (delta: number): void => {
        const next = Math.min(Math.max(0, sel.t + delta), Math.max(0, length - 1));
        if (next !== sel.t) setSel({ ...sel, t: next });
      };
      return dispatchKey(FRAME_COMMANDS, step, e);
    },
    [sel, length],
  );
  useShortcutKeys(stepFrames);

  const frame: FrameSource = sel ? (datasetImage ?? scratch) : (uploaded?.bitmap ?? scratch);
  const frameName = sel
    ? `${sel.dataset} · episode ${sel.episode} · frame ${sel.t} · ${sel.camera}`
    : (uploaded?.name ?? 'scratch frame');
  const dsList = datasets.data?.datasets ?? [];
  const current = dsList.find((d) => d.id === sel?.dataset);

  return (
    <section className="workspace" data-testid="page-prompt">
      <aside className="sidebar">
        <h3>Datasets</h3>
        <div className="list" data-testid="dataset-list">
          {dsList.map((d) => (
            <button
              key={d.id}
              type="button"
              aria-current={sel?.dataset === d.id}
              onClick={() => setSel({ dataset: d.id, episode: 0, t: 0, camera: d.cameras[0] ?? 'front' })}
            >
              {d.id}
              <span className="sub">
                {d.num_episodes} episodes · {d.num_frames} frames · {d.fps} fps
              </span>
            </button>
          ))}
          {datasets.isSuccess && dsList.length === 0 && (
            <p className="muted">No datasets on the server yet.</p>
          )}
          {datasets.isError && <p className="muted">{datasets.error.message}</p>}
        </div>
        {sel && current && (
          <>
            <div className="row">
              <h3 className="grow" style={{ margin: 0 }}>
                Episodes
              </h3>
              <select
                value={sel.camera}
                aria-label="Camera"
                onChange={(e) => setSel({ ...sel, camera: e.target.value })}
                style={{ padding: '2px 4px', fontSize: 12 }}
              >
                {current.cameras.map((c) => (
                  <option key={c}>{c}</option>
                ))}
              </select>
            </div>
            <div className="list" data-testid="episode-list">
              {(episodes.data ?? []).map((ep) => (
                <button
                  key={ep.index}
                  type="button"
                  aria-current={sel.episode === ep.index}
                  onClick={() => setSel({ ...sel, episode: ep.index, t: 0 })}
                >
                  #{ep.index} <span className="muted">· {ep.length} frames</span>
                  <span className="sub">{ep.task}</span>
                </button>
              ))}
            </div>
          </>
        )}
        <h3>Other frames</h3>
        <div className="list">
          <button
            type="button"
            aria-current={!sel && !uploaded}
            onClick={() => {
              setSel(null);
              setUploaded(null);
            }}
          >
            Scratch frame<span className="sub">a drawn tabletop, 640×480</span>
          </button>
          <label className="row" style={{ padding: '5px 8px', cursor: 'pointer', fontSize: 13 }}>
            <span>Open image…</span>
            <input
              type="file"
              accept="image/*"
              style={{ display: 'none' }}
              onChange={async (e) => {
                const f = e.target.files?.[0];
                if (!f) return;
                setUploaded({ name: f.name, bitmap: await createImageBitmap(f) });
                setSel(null);
              }}
            />
          </label>
        </div>
      </aside>
      <PromptWorkbench
        editor={editor}
        frame={frame}
        frameName={frameName}
        source={sel}
        episode={sel ? (episode.data ?? null) : null}
        filmstrip={
          sel && length > 0 ? (
            <Filmstrip sel={sel} length={length} onPick={(t) => setSel({ ...sel, t })} />
          ) : null
        }
        frameError={frameError}
      />
      <HelpOverlay editor={editor} extra={FRAME_COMMANDS} />
    </section>
  );
}

function Filmstrip({
  sel,
  length,
  onPick,
}: {
  sel: DatasetFrame;
  length: number;
  onPick: (t: number) => void;
}) {
  const strip = useRef<HTMLDivElement>(null);
  useEffect(() => {
    strip.current
      ?.querySelector('[aria-current="true"]')
      ?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }, [sel.t]);
  return (
    <div className="filmstrip" ref={strip} data-testid="filmstrip" title="D / F: previous / next frame">
      {Array.from({ length }, (_, t) => (
        <button key={t} type="button" aria-current={t === sel.t} onClick={() => onPick(t)} data-frame={t}>
          <img loading="lazy" src={frameUrl(sel.dataset, sel.episode, t, sel.camera)} alt={`frame ${t}`} />
          <span className="idx num">{t}</span>
        </button>
      ))}
    </div>
  );
}

interface WorkbenchProps {
  editor: Editor;
  frame: FrameSource;
  frameName: string;
  source: DatasetFrame | null;
  episode: EpisodeData | null;
  filmstrip: ReactNode;
  frameError: string | null;
}

function PromptWorkbench({
  editor,
  frame,
  frameName,
  source,
  episode,
  filmstrip,
  frameError,
}: WorkbenchProps) {
  const [encoder, encStatus] = useEncoder();
  const meta = useMeta();
  const serverHash = meta.data?.model?.encoder_hash;
  const shapes = useEditorState(editor, (s) => s.shapes);
  const order = useEditorState(editor, (s) => s.order);
  const [instruction, setInstruction] = useState('pick up the red block');
  const [result, setResult] = useState<PredictResponse | null>(null);
  const [ioError, setIoError] = useState<string | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const task = episode?.task;
  useEffect(() => {
    if (task) setInstruction(task);
  }, [task]);

  // Live encode as the drawing changes (latest wins inside the client).
  useEffect(() => {
    encoder.encode(exportPrompts(editor)).catch(() => {});
  }, [encoder, editor, shapes, order]);

  const run = useMutation({
    mutationFn: async () => {
      const prompts = exportPrompts(editor);
      const tokens = encoderMatches(encStatus, serverHash) ? await encoder.encode(prompts) : null;
      const ref = source
        ? { dataset: source.dataset, episode: source.episode, frame: source.t, camera: source.camera }
        : null;
      const state = source && episode ? episode.state[source.t] : undefined;
      return predict({
        frame: ref ? { ref } : { canvas: frame },
        instruction,
        prompts,
        tokens,
        ...(state ? { state } : {}),
      });
    },
    onSuccess: setResult,
  });

  // Without a camera model the schematic path starts at the first prompt that has a position.
  const anchor = useMemo<Vec>(() => {
    for (const id of order) {
      const s = shapes[id]!;
      const a = kindOf(s).anchor(s);
      if (a) return a;
    }
    return { x: 0.5, y: 0.5 };
  }, [shapes, order]);
  // With the dataset's camera model and the end-effector position, the chunk is projected; the
  // recorded actions from the same frame are drawn beside it for comparison.
  const annotations = useAnnotations(source?.dataset ?? null, source?.episode ?? null);
  const camera = source ? sidecarCamera(annotations.data?.sidecar, source.camera) : null;
  const ee = source && episode ? episode.state[source.t]?.slice(0, 3) : undefined;
  const projected = result && camera && ee && ee.length === 3;
  const path = result
    ? projected
      ? projectedPath(camera, [ee[0]!, ee[1]!, ee[2]!], result.actions)
      : schematicPath(anchor, result.actions_normalized)
    : null;
  const recordedPath =
    projected && source && episode
      ? projectedPath(
          camera,
          [ee[0]!, ee[1]!, ee[2]!],
          episode.actions.slice(source.t, source.t + result.actions.length),
        )
      : null;

  return (
    <>
      <div
        className="stage-col"
        data-testid="prompt-stage"
        data-overlay={path ? (projected ? 'projected' : 'schematic') : 'none'}
      >
        <Toolbar editor={editor} />
        <CanvasView
          editor={editor}
          frame={frame}
          overlay={
            path
              ? (toScreen) => (
                  <>
                    {recordedPath && (
                      <ActionOverlay
                        path={recordedPath}
                        toScreen={toScreen}
                        label="recorded"
                        color="#b0b6c0"
                      />
                    )}
                    <ActionOverlay
                      path={path}
                      toScreen={toScreen}
                      label={projected ? 'predicted' : 'schematic (no camera model)'}
                    />
                  </>
                )
              : undefined
          }
        />
        {filmstrip}
        <CanvasStatus editor={editor}>
          {frameError ? <span className="error">{frameError}</span> : frameName}
        </CanvasStatus>
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
            <ActionTable
              predicted={result.actions}
              {...(source && episode
                ? { recorded: episode.actions.slice(source.t, source.t + result.actions.length) }
                : {})}
            />
          </div>
        )}
        {source && <AnnotationPanel editor={editor} source={source} instruction={instruction} />}
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
