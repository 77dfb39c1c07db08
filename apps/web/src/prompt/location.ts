// The Prompt page's deep link: #/prompt?dataset=sim-sample&episode=3&frame=12&camera=front. The
// hash keeps working on any static host; the page replaces it as the frame changes (no history
// entry per frame, as CVAT's ?frame= does), and a reload or a shared link opens the same frame.
export interface PromptLocation {
  readonly dataset: string;
  readonly episode: number;
  readonly frame: number;
  /** null: the dataset's first camera. */
  readonly camera: string | null;
}

function index(v: string | null): number | null {
  if (v === null || !/^\d{1,9}$/.test(v)) return null;
  return Number(v);
}

/** The location a hash names, or null when it names no dataset frame (scratch, or not the page). */
export function parsePromptHash(hash: string): PromptLocation | null {
  const m = /^#\/?prompt\?(.*)$/.exec(hash);
  if (!m) return null;
  const q = new URLSearchParams(m[1]);
  const dataset = q.get('dataset');
  if (!dataset) return null;
  return {
    dataset,
    episode: index(q.get('episode')) ?? 0,
    frame: index(q.get('frame')) ?? 0,
    camera: q.get('camera') || null,
  };
}

export function promptHash(loc: PromptLocation | null): string {
  if (!loc) return '#/prompt';
  const q = new URLSearchParams({
    dataset: loc.dataset,
    episode: String(loc.episode),
    frame: String(loc.frame),
  });
  if (loc.camera) q.set('camera', loc.camera);
  return `#/prompt?${q.toString()}`;
}
