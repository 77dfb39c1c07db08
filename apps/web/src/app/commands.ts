// Command tables (excalidraw's actions, pared down): each command is data (its keys, a label,
// whether it applies now, what it does), and both the keyboard dispatch and the help overlay
// read the same table, so a shortcut cannot work without being listed or be listed without working.
import type { KeyInfo } from './keys';

export interface Command<C> {
  readonly id: string;
  /**
   * Chords as the help shows them: modifiers (Ctrl, Alt, Shift) then the key as KeyboardEvent.key
   * names it ('Esc' and 'Space' stand for 'Escape' and ' '), e.g. 'Ctrl+Shift+Z', '?', 'B'.
   * Ctrl and Alt must be exactly as written; Shift must be held when written and is free
   * otherwise (shifted symbols such as '?' arrive with it). When several commands match, the
   * one naming more modifiers wins (Ctrl+Shift+Z is redo, not undo).
   */
  readonly keys: readonly string[];
  readonly label: string;
  /** Longer help text (the tools' hints). */
  readonly hint?: string;
  /** How the help writes the keys when that differs from the chords ('Shift+!' is pressed as Shift+1). */
  readonly shown?: string;
  /** Modifiers do not matter: Esc and Enter must work while Alt or Shift is held mid-gesture. */
  readonly anyModifiers?: boolean;
  /** Whether the command applies now; when it does not, the key goes to the next match. */
  readonly when?: (ctx: C) => boolean;
  readonly perform: (ctx: C, e: KeyInfo) => void;
  /** On the key's release (Space ends the pan it started). */
  readonly release?: (ctx: C) => void;
}

/** What the help overlay lists for one command. */
export interface HelpRow {
  readonly id: string;
  readonly keys: string;
  readonly label: string;
  readonly hint?: string;
}

interface Chord {
  readonly key: string;
  readonly ctrl: boolean;
  readonly alt: boolean;
  readonly shift: boolean;
}

const KEY_NAMES: Readonly<Record<string, string>> = { Esc: 'Escape', Space: ' ' };
const MODIFIERS = new Set(['Ctrl', 'Alt', 'Shift']);

export function parseChord(text: string): Chord {
  const parts = text.split('+');
  const key = parts.pop() ?? '';
  const bad = parts.filter((m) => !MODIFIERS.has(m));
  if (key === '' || bad.length > 0) throw new Error(`not a key chord: ${JSON.stringify(text)}`);
  return {
    key: (KEY_NAMES[key] ?? key).toLowerCase(),
    ctrl: parts.includes('Ctrl'),
    alt: parts.includes('Alt'),
    shift: parts.includes('Shift'),
  };
}

/** How specific the command's best chord for `e` is (modifiers it names), or -1 when none matches. */
function matchScore<C>(c: Command<C>, e: KeyInfo): number {
  let best = -1;
  for (const chord of c.keys.map(parseChord)) {
    if (chord.key !== e.key.toLowerCase()) continue;
    if (c.anyModifiers) best = Math.max(best, 0);
    else if (chord.ctrl === e.ctrl && chord.alt === e.alt && (!chord.shift || e.shift))
      best = Math.max(best, Number(chord.ctrl) + Number(chord.alt) + Number(chord.shift));
  }
  return best;
}

/** The command a key press runs: the most specific match among those that apply now. */
export function findCommand<C>(table: readonly Command<C>[], ctx: C, e: KeyInfo): Command<C> | undefined {
  let found: Command<C> | undefined;
  let score = -1;
  for (const c of table) {
    const s = matchScore(c, e);
    if (s > score && (c.when?.(ctx) ?? true)) {
      found = c;
      score = s;
    }
  }
  return found;
}

/** Runs the command for a key press; true when one ran (the key is consumed). */
export function dispatchKey<C>(table: readonly Command<C>[], ctx: C, e: KeyInfo): boolean {
  const c = findCommand(table, ctx, e);
  c?.perform(ctx, e);
  return c !== undefined;
}

/** Key releases: every command bound to the key that has a release step gets it. */
export function dispatchKeyUp<C>(table: readonly Command<C>[], ctx: C, e: KeyInfo): void {
  for (const c of table)
    if (c.release && c.keys.some((k) => parseChord(k).key === e.key.toLowerCase())) c.release(ctx);
}

/** A command's keys as the help writes them. */
export const shownKeys = (c: Command<never>): string => c.shown ?? c.keys.join(' / ');

export function helpRows(table: readonly Command<never>[]): HelpRow[] {
  return table.map((c) => ({
    id: c.id,
    keys: shownKeys(c),
    label: c.label,
    ...(c.hint ? { hint: c.hint } : {}),
  }));
}
