// Save the drawn prompts and masks back to the episode as a new annotation version, or load the
// latest saved version (or the dataset's own auto-annotation) onto the canvas.
import { useState } from 'react';
import type { Editor } from '../canvas/editor';
import { exportPrompts, importPrompts } from '../canvas/io/prompts';
import { useAnnotations, useSaveAnnotation } from '../api/datasets';
import type { DatasetFrame } from './PromptPage';

export function AnnotationPanel({
  editor,
  source,
  instruction,
}: {
  editor: Editor;
  source: DatasetFrame;
  instruction: string;
}) {
  const history = useAnnotations(source.dataset, source.episode);
  const save = useSaveAnnotation(source.dataset, source.episode);
  const [loadError, setLoadError] = useState<string | null>(null);
  const latest = history.data?.versions.at(-1);
  const sidecarPrompts = (history.data?.sidecar as { prompts?: unknown } | null | undefined)?.prompts;

  const onSave = (): void => {
    const all = exportPrompts(editor);
    save.mutate({
      frame: source.t,
      camera: source.camera,
      instruction,
      prompts: all.filter((p) => p.type !== 'mask'),
      masks: all.flatMap((p) =>
        p.type === 'mask' ? [{ frame: source.t, camera: source.camera, label: '', rle: p.rle }] : [],
      ),
      note: '',
      base_version: history.data?.latest ?? 0,
    });
  };
  const load = (prompts: unknown, masks: readonly { rle: unknown }[] = []): void => {
    try {
      editor.clear();
      importPrompts(editor, [
        ...((prompts as unknown[]) ?? []),
        ...masks.map((m) => ({ type: 'mask', rle: m.rle })),
      ]);
      setLoadError(null);
    } catch (e) {
      setLoadError(e instanceof Error ? e.message : String(e));
    }
  };

  return (
    <div data-testid="annotations">
      <h3>Annotation</h3>
      <div className="row">
        <button type="button" onClick={onSave} disabled={save.isPending} data-testid="save-annotation">
          {save.isPending ? 'Saving…' : 'Save to episode'}
        </button>
        {latest && (
          <button
            type="button"
            onClick={() => load(latest.prompts, latest.masks)}
            title={`saved ${new Date(latest.created_at * 1000).toLocaleString()} on frame ${latest.frame} (${latest.camera}); loads onto this frame`}
          >
            Load v{latest.version}
            {latest.frame !== source.t || latest.camera !== source.camera
              ? ` (from frame ${latest.frame})`
              : ''}
          </button>
        )}
        {Array.isArray(sidecarPrompts) && sidecarPrompts.length > 0 && (
          <button
            type="button"
            onClick={() => load(sidecarPrompts)}
            title="the dataset's own auto-annotation"
          >
            Load auto
          </button>
        )}
      </div>
      <p className="muted" style={{ margin: '4px 0 0', fontSize: 12 }} data-testid="annotation-version">
        {history.data
          ? history.data.latest > 0
            ? `saved versions: ${history.data.latest}`
            : 'no saved version yet'
          : '…'}
        {save.isSuccess && ` · saved v${save.data.version}`}
      </p>
      {save.isError && <div className="errbox">{save.error.message}</div>}
      {loadError && <div className="errbox">{loadError}</div>}
    </div>
  );
}
