import { useEffect } from 'react';

const TEXT_INPUTS = new Set(['text', 'number', 'search', 'email', 'password', 'url', 'tel']);

/** True when a key press belongs to a text field (so shortcuts must leave it alone). Checkboxes and buttons do not count. */
export function isTypingTarget(t: EventTarget | null): boolean {
  if (!(t instanceof HTMLElement)) return false;
  if (t.isContentEditable || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT') return true;
  return t instanceof HTMLInputElement && TEXT_INPUTS.has(t.type);
}

/** A key event as the command tables and tool machines see it (Cmd counts as Ctrl). */
export interface KeyInfo {
  readonly key: string;
  readonly alt: boolean;
  readonly shift: boolean;
  readonly ctrl: boolean;
}

export function keyInfo(e: KeyboardEvent): KeyInfo {
  return { key: e.key, alt: e.altKey, shift: e.shiftKey, ctrl: e.ctrlKey || e.metaKey };
}

/**
 * Window key listeners for shortcuts, skipping presses that belong to a text field. `down`
 * returns true when it consumed the key (its default action is then prevented).
 */
export function useShortcutKeys(down: ((e: KeyInfo) => boolean) | null, up?: (e: KeyInfo) => void): void {
  useEffect(() => {
    if (!down) return;
    const onDown = (e: KeyboardEvent): void => {
      if (!isTypingTarget(e.target) && down(keyInfo(e))) e.preventDefault();
    };
    const onUp = (e: KeyboardEvent): void => up?.(keyInfo(e));
    window.addEventListener('keydown', onDown);
    window.addEventListener('keyup', onUp);
    return () => {
      window.removeEventListener('keydown', onDown);
      window.removeEventListener('keyup', onUp);
    };
  }, [down, up]);
}
