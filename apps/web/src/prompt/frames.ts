// One prompt set per frame, as CVAT and Label Studio keep annotations per frame / task: the
// canvas shows the set of the frame on screen, switching frames stores it and loads the other
// frame's set (empty for a frame never drawn on). Nothing carries over on its own; "copy to the
// next frame" is an explicit action, one undo entry on the frame it lands on. Sets of dataset
// frames and the scratch frame survive a reload (sessionStorage); an opened image's set lives
// as long as the tab has the image.
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { Editor } from '../canvas/editor';
import type { Size } from '../canvas/geometry';
import { type PromptJson, exportPrompts, importPrompts, readPrompts } from '../canvas/io/prompts';

export type FrameKey = string;

export interface DatasetFrameId {
  readonly dataset: string;
  readonly episode: number;
  readonly t: number;
  readonly camera: string;
}

export const SCRATCH_KEY: FrameKey = 'scratch';

export function datasetFrameKey(f: DatasetFrameId): FrameKey {
  return `ds/${encodeURIComponent(f.dataset)}/${f.episode}/${encodeURIComponent(f.camera)}/${f.t}`;
}

/** The key prefix shared by every frame of one episode seen from one camera. */
export function episodeKeyPrefix(f: Omit<DatasetFrameId, 't'>): string {
  return `ds/${encodeURIComponent(f.dataset)}/${f.episode}/${encodeURIComponent(f.camera)}/`;
}

/** An opened image: `n` makes two opens of files with one name two frames. */
export const imageKey = (n: number, name: string): FrameKey => `image/${n}/${name}`;

const persisted = (key: FrameKey): boolean => key === SCRATCH_KEY || key.startsWith('ds/');

export const STORAGE_KEY = 'pixelvla.prompt-sets.v1';

export interface FrameSetsState {
  /** The frame on the canvas now (null before the first frame is shown). */
  readonly current: FrameKey | null;
  /** Prompts stored per frame other than the current one (the current one's are the editor's). */
  readonly counts: Readonly<Record<FrameKey, number>>;
  /** Why the stored prompts of the frame just shown could not be loaded, or why saving failed. */
  readonly error: string | null;
}

export class FrameSets {
  readonly store: StoreApi<FrameSetsState> = createStore<FrameSetsState>(() => ({
    current: null,
    counts: {},
    error: null,
  }));
  private readonly sets = new Map<FrameKey, PromptJson[]>();
  private pendingCopy: { key: FrameKey; prompts: PromptJson[] } | null = null;

  constructor(
    private readonly editor: Editor,
    private readonly storage: Pick<Storage, 'getItem' | 'setItem'> | null = null,
  ) {
    this.restore();
  }

  get current(): FrameKey | null {
    return this.store.getState().current;
  }

  /** Stored prompts of a frame that is not on the canvas (the canvas's own are the editor's). */
  stored(key: FrameKey): readonly PromptJson[] {
    return this.sets.get(key) ?? [];
  }

  /**
   * Puts frame `key` (of pixel size `size`) on the canvas: the current frame's prompts are kept
   * under its key, the canvas gets `key`'s own set, undo starts afresh. Showing the frame already
   * on the canvas changes nothing.
   */
  show(key: FrameKey, size: Size): void {
    const prev = this.current;
    if (prev === key) return;
    if (prev !== null) this.keep(prev);
    let error: string | null = null;
    const set = this.sets.get(key) ?? [];
    try {
      this.editor.load(size, readPrompts(set, size));
    } catch (e) {
      // A stored set this frame cannot take (an older build's JSON, a frame of another size).
      this.editor.load(size, []);
      this.sets.delete(key);
      error = `the prompts stored for this frame could not be loaded: ${e instanceof Error ? e.message : String(e)}`;
    }
    this.sets.delete(key); // the editor holds them now
    this.store.setState({ current: key, counts: this.countsOf(), error });
    const copy = this.pendingCopy;
    this.pendingCopy = null;
    if (copy && copy.key === key) {
      // One undo entry on the frame it lands on: Ctrl+Z takes the copy back.
      importPrompts(this.editor, copy.prompts);
    } else if (copy) {
      this.sets.set(copy.key, [...(this.sets.get(copy.key) ?? []), ...copy.prompts]);
      this.store.setState({ counts: this.countsOf() });
    }
    this.persist();
  }

  /**
   * Copies the prompts on the canvas to frame `key`, added to what it has; they appear when that
   * frame is shown (the page moves there next), as one undo entry there.
   */
  copyTo(key: FrameKey): number {
    const prompts = exportPrompts(this.editor);
    if (prompts.length === 0 || key === this.current) return 0;
    this.pendingCopy = { key, prompts };
    return prompts.length;
  }

  /** Writes the current frame's set to storage too (the page calls it when the tab is hidden). */
  flush(): void {
    this.persist();
  }

  private keep(key: FrameKey): void {
    const prompts = exportPrompts(this.editor);
    if (prompts.length > 0) this.sets.set(key, prompts);
    else this.sets.delete(key);
  }

  private countsOf(): Record<FrameKey, number> {
    return Object.fromEntries([...this.sets].map(([k, v]) => [k, v.length]));
  }

  private persist(): void {
    if (!this.storage) return;
    const current = this.current;
    const out: Record<FrameKey, PromptJson[]> = {};
    for (const [k, v] of this.sets) if (persisted(k)) out[k] = v;
    if (current !== null && persisted(current)) {
      const now = exportPrompts(this.editor);
      if (now.length > 0) out[current] = now;
    }
    try {
      this.storage.setItem(STORAGE_KEY, JSON.stringify(out));
    } catch (e) {
      this.store.setState({
        error: `prompts could not be kept for a reload: ${e instanceof Error ? e.message : String(e)}`,
      });
    }
  }

  private restore(): void {
    let raw: string | null;
    try {
      raw = this.storage?.getItem(STORAGE_KEY) ?? null;
    } catch {
      return; // storage disabled: sets simply live as long as the page
    }
    if (!raw) return;
    try {
      const data = JSON.parse(raw) as unknown;
      if (typeof data !== 'object' || data === null || Array.isArray(data)) return;
      for (const [k, v] of Object.entries(data as Record<string, unknown>))
        if (persisted(k) && Array.isArray(v) && v.length > 0) this.sets.set(k, v as PromptJson[]);
    } catch {
      return; // not ours or damaged: start empty (each set is validated again when shown)
    }
    this.store.setState({ counts: this.countsOf() });
  }
}
