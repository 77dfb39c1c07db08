// Prompt: pick a frame, draw prompts, type the instruction, predict, see the action chunk over
// the frame and in a table. The prompt encoder runs live in the browser as you draw.
//
// Prompts and predictions belong to a frame (as in CVAT and Label Studio): every dataset frame,
// the scratch frame and each opened image has its own prompt set (prompt/frames.ts) and its own
// prediction, shown only on that frame. "Copy to next frame" is the one way prompts move. The
// URL names the dataset frame (prompt/location.ts), so a reload or a shared link opens it again.
import { type ReactNode, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useMutation } from '@tanstack/react-query';
import { useStore } from 'zustand';
import { Editor } from '../canvas/editor';
import { kindOf } from '../canvas/kinds';
import { type KeyInfo, useShortcutKeys } from '../app/keys';
import { type Command, dispatchKey, shownKeys } from '../app/commands';
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
import {
  type FrameKey,
  FrameSets,
  SCRATCH_KEY,
  datasetFrameKey,
  episodeKeyPrefix,
  imageKey,
} from '../prompt/frames';
import { parsePromptHash, promptHash } from '../prompt/location';
import { ImageOpenError, MAX_IMAGE_SIDE, openImage } from '../prompt/image';

export interface DatasetFrame {
  readonly dataset: string;
  readonly episode: number;
  readonly t: number;
  readonly camera: string;
}

/** What the canvas shows now: the frame's key, its pixels, and the dataset frame it is, if any. */
interface Shown {
  readonly key: FrameKey;
  readonly source: FrameSource;
  readonly name: string;
  readonly frame: DatasetFrame | null;
}

/** A prediction and what it was made from (its frame is its key in the page's map). */
interface Prediction {
  readonly result: PredictResponse;
  /** The prompts as sent, to say when the drawing has changed since. */
  readonly prompts: string;
}

interface PageActions {
  step: (delta: number) => void;
  copyNext: () => void;
  predict: () => void;
}

/** The page's own shortcuts, listed in the help after the canvas's. */
const PAGE_COMMANDS: readonly Command<PageActions>[] = [
  { id: 'frame-next', keys: ['F'], label: 'Next frame of the episode', perform: (a) => a.step(1) },
  { id: 'frame-previous', keys: ['D'], label: 'Previous frame of the episode', perform: (a) => a.step(-1) },
  {
    id: 'copy-next',
    keys: ['Shift+F'],
    label: 'Copy this frame’s prompts to the next frame and go there',
    perform: (a) => a.copyNext(),
  },
  {
    id: 'predict',
    keys: ['Ctrl+Enter'],
    label: 'Predict the action chunk for this frame (also in the instruction field)',
    perform: (a) => a.predict(),
  },
];
const keysOfPage = (id: string): string => shownKeys(PAGE_COMMANDS.find((c) => c.id === id)!);

const sessionStore = (): Storage | null => {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
};

export function PromptPage() {
  const editor = useMemo(() => new Editor({ width: 640, height: 480 }, 'point'), []);
  const sets = useMemo(() => new FrameSets(editor, sessionStore()), [editor]);
  const scratch = useScratchFrame();
  const [link] = useState(() => parsePromptHash(window.location.hash));
  const [sel, setSel] = useState<DatasetFrame | null>(null);
  const [uploaded, setUploaded] = useState<{ key: FrameKey; name: string; bitmap: ImageBitmap } | null>(null);
  /** The frame shown when no dataset frame is selected: the scratch frame or the opened image. */
  const [otherKey, setOtherKey] = useState<FrameKey>(SCRATCH_KEY);
  const [openNote, setOpenNote] = useState<{ error: boolean; text: string } | null>(null);
  const [shown, setShown] = useState<Shown | null>(null);
  const [frameError, setFrameError] = useState<string | null>(null);
  const [linkNote, setLinkNote] = useState<string | null>(null);
  const [predictions, setPredictions] = useState<ReadonlyMap<FrameKey, Prediction>>(new Map());
  const opened = useRef(0);
  const datasets = useDatasets();
  const episodes = useEpisodes(sel?.dataset ?? null);
  const episode = useEpisode(sel?.dataset ?? null, sel?.episode ?? null);
  const dsList = datasets.data?.datasets ?? [];
  const current = dsList.find((d) => d.id === sel?.dataset);

  /** Puts a frame on the canvas: its own prompt set comes with it. */
  const present = useCallback(
    (next: Shown): void => {
      sets.show(next.key, { width: next.source.width, height: next.source.height });
      setShown(next);
    },
    [sets],
  );

  // Opening the page: the linked dataset frame once the dataset list says it exists, else scratch.
  const resolved = useRef(false);
  useEffect(() => {
    if (resolved.current) return;
    if (!link) {
      resolved.current = true;
      present({ key: SCRATCH_KEY, source: scratch, name: 'scratch frame', frame: null });
      return;
    }
    if (!datasets.data) {
      if (datasets.isError) {
        resolved.current = true;
        setLinkNote(`The link names dataset “${link.dataset}”, but the dataset list could not be read.`);
        present({ key: SCRATCH_KEY, source: scratch, name: 'scratch frame', frame: null });
      }
      return;
    }
    resolved.current = true;
    const d = datasets.data.datasets.find((x) => x.id === link.dataset);
    if (!d) {
      setLinkNote(`The link names dataset “${link.dataset}”, which this server does not have.`);
      present({ key: SCRATCH_KEY, source: scratch, name: 'scratch frame', frame: null });
      return;
    }
    const camera = link.camera && d.cameras.includes(link.camera) ? link.camera : (d.cameras[0] ?? 'front');
    if (link.camera && camera !== link.camera)
      setLinkNote(`The link's camera “${link.camera}” is not in ${d.id}; showing ${camera}.`);
    const ep = Math.min(link.episode, Math.max(0, d.num_episodes - 1));
    if (ep !== link.episode)
      setLinkNote(`The link's episode ${link.episode} is past ${d.id}'s last (${d.num_episodes - 1}).`);
    setSel({ dataset: d.id, episode: ep, t: link.frame, camera });
  }, [link, datasets.data, datasets.isError, present, scratch]);

  // A link typed into the address bar (or history navigation) moves to its frame.
  useEffect(() => {
    const onHash = (): void => {
      const loc = parsePromptHash(window.location.hash);
      const d = loc && datasets.data?.datasets.find((x) => x.id === loc.dataset);
      if (!loc || !d) return;
      const camera = loc.camera && d.cameras.includes(loc.camera) ? loc.camera : (d.cameras[0] ?? 'front');
      setSel((cur) =>
        cur &&
        cur.dataset === d.id &&
        cur.episode === loc.episode &&
        cur.t === loc.frame &&
        cur.camera === camera
          ? cur
          : { dataset: d.id, episode: loc.episode, t: loc.frame, camera },
      );
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, [datasets.data]);

  // A frame past the episode's end (from a link) is clamped once the episode's length is known.
  const length = episode.data?.length ?? 0;
  useEffect(() => {
    if (sel && episode.data && episode.data.index === sel.episode && sel.t >= length && length > 0) {
      setLinkNote(`Frame ${sel.t} is past the episode's end; showing its last frame, ${length - 1}.`);
      setSel({ ...sel, t: length - 1 });
    }
  }, [sel, episode.data, length]);

  // The URL follows the dataset frame (replaced, not pushed: no history entry per frame).
  useEffect(() => {
    if (!resolved.current) return;
    const hash = promptHash(
      sel ? { dataset: sel.dataset, episode: sel.episode, frame: sel.t, camera: sel.camera } : null,
    );
    if (window.location.hash !== hash) window.history.replaceState(null, '', hash);
  }, [sel]);

  // Loading the selected dataset frame; it reaches the canvas (with its prompts) once decoded.
  useEffect(() => {
    if (!sel) return;
    let live = true;
    const key = datasetFrameKey(sel);
    loadImage(frameUrl(sel.dataset, sel.episode, sel.t, sel.camera)).then(
      (img) => {
        if (!live) return;
        present({
          key,
          source: img,
          name: `${sel.dataset} · episode ${sel.episode} · frame ${sel.t} · ${sel.camera}`,
          frame: sel,
        });
        setFrameError(null);
      },
      () => live && setFrameError(`could not load frame ${sel.t} of episode ${sel.episode}`),
    );
    return () => {
      live = false;
    };
  }, [sel, present]);

  // The tab's sets are written for a reload when the page is hidden or left.
  useEffect(() => {
    const keep = (): void => sets.flush();
    window.addEventListener('pagehide', keep);
    return () => {
      window.removeEventListener('pagehide', keep);
      keep();
    };
  }, [sets]);

  const wantedKey = sel ? datasetFrameKey(sel) : otherKey;
  const ready = shown !== null && shown.key === wantedKey;
  const nextKey = sel && sel.t + 1 < length ? datasetFrameKey({ ...sel, t: sel.t + 1 }) : null;

  const step = useCallback(
    (delta: number): void => {
      if (!sel) return;
      const next = Math.min(Math.max(0, sel.t + delta), Math.max(0, length - 1));
      if (next !== sel.t) setSel({ ...sel, t: next });
    },
    [sel, length],
  );
  const copyNext = useCallback((): void => {
    if (!sel || !nextKey || !ready) return;
    sets.copyTo(nextKey);
    step(1);
  }, [sel, nextKey, ready, sets, step]);

  const predictRef = useRef<() => void>(() => {});
  const onKey = useCallback(
    (e: KeyInfo): boolean =>
      dispatchKey(PAGE_COMMANDS, { step, copyNext, predict: () => predictRef.current() }, e),
    [step, copyNext],
  );
  useShortcutKeys(onKey);

  const showScratch = (): void => {
    setSel(null);
    setOtherKey(SCRATCH_KEY);
    present({ key: SCRATCH_KEY, source: scratch, name: 'scratch frame', frame: null });
  };
  const showUploaded = (u: NonNullable<typeof uploaded>): void => {
    setSel(null);
    setOtherKey(u.key);
    present({
      key: u.key,
      source: u.bitmap,
      name: `${u.name} · ${u.bitmap.width}×${u.bitmap.height}`,
      frame: null,
    });
  };
  const onOpen = async (file: File): Promise<void> => {
    try {
      const img = await openImage(file);
      const key = imageKey(++opened.current, img.name);
      const { width, height } = img.bitmap;
      const scaled = width !== img.original.width || height !== img.original.height;
      setOpenNote(
        scaled
          ? {
              error: false,
              text: `${img.name} is ${img.original.width}×${img.original.height}: downscaled to ${width}×${height} (the server takes at most ${MAX_IMAGE_SIDE} px a side).`,
            }
          : null,
      );
      const u = { key, name: img.name, bitmap: img.bitmap };
      setUploaded(u);
      showUploaded(u);
    } catch (e) {
      setOpenNote({
        error: true,
        text: e instanceof ImageOpenError ? e.message : `could not open ${file.name}: ${String(e)}`,
      });
    }
  };

  const prediction = shown ? (predictions.get(shown.key) ?? null) : null;
  const shownEpisode =
    shown?.frame && sel && sel.dataset === shown.frame.dataset && episode.data?.index === shown.frame.episode
      ? episode.data
      : null;

  return (
    <section className="workspace" data-testid="page-prompt">
      <aside className="sidebar">
        {linkNote && (
          <div className="warn" data-testid="link-note">
            {linkNote}
          </div>
        )}
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
            aria-current={!sel && otherKey === SCRATCH_KEY}
            data-testid="scratch-frame"
            onClick={showScratch}
          >
            Scratch frame<span className="sub">a drawn tabletop, 640×480</span>
          </button>
          {uploaded && (
            <button
              type="button"
              aria-current={!sel && otherKey === uploaded.key}
              data-testid="opened-image"
              onClick={() => showUploaded(uploaded)}
            >
              {uploaded.name}
              <span className="sub">
                opened image · {uploaded.bitmap.width}×{uploaded.bitmap.height}
              </span>
            </button>
          )}
          <label className="row" style={{ padding: '5px 8px', cursor: 'pointer', fontSize: 13 }}>
            <span>Open image…</span>
            <input
              type="file"
              accept="image/*"
              data-testid="open-image"
              style={{ display: 'none' }}
              onChange={(e) => {
                const f = e.target.files?.[0];
                e.target.value = '';
                if (f) void onOpen(f);
              }}
            />
          </label>
          {openNote && (
            <div className={openNote.error ? 'errbox' : 'warn'} data-testid="open-image-note" role="status">
              {openNote.text}
            </div>
          )}
        </div>
      </aside>
      <PromptWorkbench
        editor={editor}
        sets={sets}
        shown={shown}
        ready={ready}
        episode={shownEpisode}
        prediction={prediction}
        predictRef={predictRef}
        onPredicted={(key, p) => setPredictions((m) => new Map(m).set(key, p))}
        onCopyNext={nextKey ? copyNext : null}
        filmstrip={
          sel && length > 0 ? (
            <Filmstrip
              sel={sel}
              length={length}
              onPick={(t) => setSel({ ...sel, t })}
              editor={editor}
              sets={sets}
              predicted={predictions}
            />
          ) : null
        }
        frameError={frameError}
      />
      <HelpOverlay editor={editor} extra={PAGE_COMMANDS} />
    </section>
  );
}

function Filmstrip({
  sel,
  length,
  onPick,
  editor,
  sets,
  predicted,
}: {
  sel: DatasetFrame;
  length: number;
  onPick: (t: number) => void;
  editor: Editor;
  sets: FrameSets;
  predicted: ReadonlyMap<FrameKey, Prediction>;
}) {
  const strip = useRef<HTMLDivElement>(null);
  const counts = useStore(sets.store, (s) => s.counts);
  const current = useStore(sets.store, (s) => s.current);
  const onCanvas = useEditorState(editor, (s) => s.order.length);
  useEffect(() => {
    strip.current
      ?.querySelector('[aria-current="true"]')
      ?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }, [sel.t]);
  const prefix = episodeKeyPrefix(sel);
  return (
    <div
      className="filmstrip"
      ref={strip}
      data-testid="filmstrip"
      title="D / F: previous / next frame · Shift+F: copy the prompts to the next frame"
    >
      {Array.from({ length }, (_, t) => {
        const key = `${prefix}${t}`;
        const n = key === current ? onCanvas : (counts[key] ?? 0);
        return (
          <button
            key={t}
            type="button"
            aria-current={t === sel.t}
            onClick={() => onPick(t)}
            data-frame={t}
            data-prompts={n}
            data-predicted={predicted.has(key) || undefined}
            title={`frame ${t}${n ? ` · ${n} prompt${n === 1 ? '' : 's'}` : ''}${predicted.has(key) ? ' · predicted' : ''}`}
          >
            <img loading="lazy" src={frameUrl(sel.dataset, sel.episode, t, sel.camera)} alt={`frame ${t}`} />
            <span className="idx num">{t}</span>
            {n > 0 && (
              <span className="marks" aria-hidden>
                {predicted.has(key) ? '●▸' : '●'}
              </span>
            )}
          </button>
        );
      })}
    </div>
  );
}

interface WorkbenchProps {
  editor: Editor;
  sets: FrameSets;
  shown: Shown | null;
  /** The frame on the canvas is the one selected (not still loading). */
  ready: boolean;
  episode: EpisodeData | null;
  prediction: Prediction | null;
  predictRef: React.RefObject<() => void>;
  onPredicted: (key: FrameKey, p: Prediction) => void;
  onCopyNext: (() => void) | null;
  filmstrip: ReactNode;
  frameError: string | null;
}

function PromptWorkbench({
  editor,
  sets,
  shown,
  ready,
  episode,
  prediction,
  predictRef,
  onPredicted,
  onCopyNext,
  filmstrip,
  frameError,
}: WorkbenchProps) {
  const [encoder, encStatus] = useEncoder();
  const meta = useMeta();
  const serverHash = meta.data?.model?.encoder_hash;
  const shapes = useEditorState(editor, (s) => s.shapes);
  const order = useEditorState(editor, (s) => s.order);
  const setsError = useStore(sets.store, (s) => s.error);
  const [instruction, setInstruction] = useState('pick up the red block');
  const [ioError, setIoError] = useState<string | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const source = shown?.frame ?? null;
  const task = episode?.task;
  useEffect(() => {
    if (task) setInstruction(task);
  }, [task]);

  // Live encode as the drawing changes (latest wins inside the client).
  useEffect(() => {
    encoder.encode(exportPrompts(editor)).catch(() => {});
  }, [encoder, editor, shapes, order]);
  // eslint-disable-next-line react-hooks/exhaustive-deps -- the editor's content changes with shapes / order
  const promptsNow = useMemo(() => JSON.stringify(exportPrompts(editor)), [editor, shapes, order]);

  const run = useMutation({
    mutationFn: async (at: Shown) => {
      const prompts = exportPrompts(editor);
      // Nothing drawn travels as nothing (a model with a text grounder then acts on the instruction);
      // a model that adds the container its grounder finds to the prompts needs them as JSON.
      const tokens =
        prompts.length > 0 && encoderMatches(encStatus, serverHash) && !meta.data?.model?.grounds_targets
          ? await encoder.encode(prompts)
          : null;
      const f = at.frame;
      const ref = f ? { dataset: f.dataset, episode: f.episode, frame: f.t, camera: f.camera } : null;
      const state = f && episode ? episode.state[f.t] : undefined;
      const result = await predict({
        frame: ref ? { ref } : { canvas: at.source },
        instruction,
        prompts,
        tokens,
        ...(state ? { state } : {}),
        spec: meta.data?.model?.observation ?? null,
        alsoPrompts: meta.data?.model?.grounds_text ?? false,
      });
      return { key: at.key, prediction: { result, prompts: JSON.stringify(prompts) } };
    },
    // Kept under the frame it was made for: switching frames never shows it elsewhere.
    onSuccess: ({ key, prediction: p }) => onPredicted(key, p),
  });
  const canPredict = ready && shown !== null && !run.isPending;
  const doPredict = (): void => {
    if (canPredict) run.mutate(shown);
  };
  useEffect(() => {
    predictRef.current = doPredict;
  });
  // An error belongs to the frame it was made on.
  const runErrorHere = run.isError && run.variables?.key === shown?.key;

  const result = prediction?.result ?? null;
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
  const stale = prediction !== null && prediction.prompts !== promptsNow;
  const where = source
    ? `frame ${source.t}`
    : shown?.key === SCRATCH_KEY
      ? 'the scratch frame'
      : 'this image';

  return (
    <>
      <div
        className="stage-col"
        data-testid="prompt-stage"
        data-overlay={path ? (projected ? 'projected' : 'schematic') : 'none'}
        data-frame-key={shown?.key ?? ''}
      >
        <Toolbar editor={editor} />
        <CanvasView
          editor={editor}
          frame={shown?.source ?? null}
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
          {frameError ? (
            <span className="error">{frameError}</span>
          ) : (
            <span data-testid="frame-name">
              {shown?.name ?? '…'}
              {!ready && !frameError && ' · loading the selected frame…'}
            </span>
          )}
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
              if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
                e.preventDefault();
                doPredict();
              }
            }}
          />
          <div className="row" style={{ marginTop: 6 }}>
            <button
              type="button"
              className="primary"
              data-testid="predict"
              onClick={doPredict}
              disabled={!canPredict}
              title={`Predict the action chunk for ${where} (${keysOfPage('predict')})`}
            >
              {run.isPending ? 'Predicting…' : 'Predict'}
            </button>
            <kbd>{keysOfPage('predict')}</kbd>
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
          {runErrorHere && (
            <div className="errbox" style={{ marginTop: 6 }}>
              {run.error.message}
            </div>
          )}
        </div>
        {result ? (
          <div data-testid="prediction" data-frame-key={shown?.key ?? ''}>
            <h3>
              Action chunk for {where} ({result.actions.length}×{result.actions[0]?.length ?? 0}) ·{' '}
              {result.model_id.slice(0, 10)}
            </h3>
            {stale && (
              <div className="warn" data-testid="prediction-stale">
                Predicted from this frame’s earlier prompts; they have changed since. Predict again to update.
              </div>
            )}
            <GroundingNote grounding={result.grounding ?? null} />
            <ActionTable
              predicted={result.actions}
              {...(source && episode
                ? { recorded: episode.actions.slice(source.t, source.t + result.actions.length) }
                : {})}
            />
          </div>
        ) : (
          <p className="muted" data-testid="no-prediction">
            No prediction for {where} yet.
          </p>
        )}
        {source && <AnnotationPanel editor={editor} source={source} instruction={instruction} />}
        <div className="frame-prompts" data-testid="frame-prompts">
          Prompts of {where} only: each frame keeps its own.
        </div>
        {setsError && <div className="errbox">{setsError}</div>}
        <PromptList editor={editor} />
        <div className="row" style={{ flexWrap: 'wrap' }}>
          <button
            type="button"
            data-testid="clear-prompts"
            disabled={order.length === 0}
            onClick={() => editor.deleteShapes(editor.state.order)}
            title={`Delete every prompt of ${where} (one undo entry)`}
          >
            Clear all
          </button>
          {onCopyNext && (
            <button
              type="button"
              data-testid="copy-next"
              disabled={order.length === 0 || !ready}
              onClick={onCopyNext}
              title={`Add these prompts to the next frame and go there (${keysOfPage('copy-next')}); undo there takes the copy back`}
            >
              Copy to next frame
            </button>
          )}
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
            data-testid="import-prompts"
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

/** What the model's text grounder made of the instruction: a drawn prompt that misses the object
 * the instruction names gets a warning (the prompt wins, as the README says); with nothing drawn,
 * whether the instruction's object was found and acted on. */
function GroundingNote({ grounding: g }: { grounding: NonNullable<PredictResponse['grounding']> | null }) {
  if (!g) return null;
  if (g.agrees === false) {
    return (
      <div className="warn" data-testid="prompt-disagree" data-box={g.object_box?.join(',') ?? ''}>
        Instruction and prompt disagree: the prompt is not on the object the instruction names
        {g.object_box ? ` (found at ${boxText(g.object_box)})` : ''}. The prompt wins: the actions go to what
        is drawn. Change the instruction or the prompt if that is not what you mean.
      </div>
    );
  }
  if (g.used) {
    return (
      <div className="muted" data-testid="grounding-used" data-box={g.object_box?.join(',') ?? ''}>
        Nothing drawn: acting on what the instruction names, found at{' '}
        {g.object_box ? boxText(g.object_box) : '?'} ({(100 * g.object_score).toFixed(0)}% sure).
        {g.matches > 1 &&
          ` ${g.matches} objects fit the words; this is the likeliest. Draw on the one you mean.`}
      </div>
    );
  }
  if (!g.object_found && g.agrees === null) {
    return (
      <div className="muted" data-testid="grounding-none">
        The instruction names nothing the model finds in this frame
        {g.object_score > 0 ? ` (best ${(100 * g.object_score).toFixed(0)}%)` : ''}; only the prompts guide
        it.
      </div>
    );
  }
  return null;
}

function boxText(b: number[]): string {
  const [x0, y0, x1, y1] = b.map((v) => (100 * v).toFixed(0));
  return `x ${x0}–${x1}%, y ${y0}–${y1}%`;
}
