// The studio's pages. The hash (#/prompt) keeps deep links working on any static host.
export const PAGES = [
  { id: 'prompt', label: 'Prompt', hint: 'Draw visual prompts on dataset frames and predict actions' },
  { id: 'teleop', label: 'Teleop', hint: 'Command a live robot by pointing at things' },
  { id: 'runs', label: 'Runs', hint: 'Launch and review training runs' },
] as const;

export type PageId = (typeof PAGES)[number]['id'];

export function pageFromHash(hash: string): PageId {
  const id = hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return PAGES.find((p) => p.id === id)?.id ?? 'prompt';
}
