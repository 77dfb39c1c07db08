// One command table: the help overlay lists exactly its rows, every key it lists does what it
// says, and the keyboard consumes no key the table does not name.
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { type Command, findCommand, shownKeys } from '../app/commands';
import type { KeyInfo } from '../app/keys';
import { Editor } from './editor';
import { GESTURES, canvasCommands } from './commands';
import { toolSpecs } from './tools';
import { HelpCard, helpFor } from './view/Toolbar';

const key = (k: string, mods: Partial<Omit<KeyInfo, 'key'>> = {}): KeyInfo => ({
  key: k,
  alt: false,
  shift: false,
  ctrl: false,
  ...mods,
});

/** The (keys, label) cells of the rendered help, row by row. */
function helpCells(extra: readonly Command<never>[] = []): [string, string][] {
  const html = renderToStaticMarkup(<HelpCard rows={helpFor(extra)} onClose={() => {}} />);
  return [...html.matchAll(/<tr[^>]*><td><kbd>(.*?)<\/kbd><\/td><td[^>]*>(.*?)<\/td>/g)].map((m) => [
    m[1]!.replace(/&amp;/g, '&'),
    m[2]!,
  ]);
}

/** The key press a person makes for a chord as the table writes it. */
function pressFor(chord: string): KeyInfo {
  const parts = chord.split('+');
  const name = parts.pop()!;
  const k = ({ Esc: 'Escape', Space: ' ' } as Record<string, string>)[name] ?? name;
  return key(k, { ctrl: parts.includes('Ctrl'), alt: parts.includes('Alt'), shift: parts.includes('Shift') });
}

describe('the canvas command table', () => {
  it('the help overlay lists exactly the command table, then the pointer gestures', () => {
    const table = canvasCommands();
    expect(helpCells()).toEqual([
      ...table.map((c): [string, string] => [shownKeys(c), c.label]),
      ...GESTURES.map((g): [string, string] => [g.keys, g.label]),
    ]);
    // Every tool's key is there, as the toolbar shows it.
    for (const t of toolSpecs()) expect(helpCells()).toContainEqual([t.key.toUpperCase(), t.label]);
  });

  it("a page's own commands are listed after the canvas's", () => {
    const page: Command<null>[] = [{ id: 'frame-next', keys: ['F'], label: 'Next frame', perform: () => {} }];
    expect(helpCells(page).at(-GESTURES.length - 1)).toEqual(['F', 'Next frame']);
  });

  it('every listed key runs its own command (none is shadowed or dead)', () => {
    for (const c of canvasCommands()) {
      for (const chord of c.keys) {
        const ed = new Editor();
        if (c.when && !c.when(ed)) ed.toggleHelp(true); // the only `when` here: Esc closes the help
        expect(findCommand(canvasCommands(), ed, pressFor(chord))?.id, `${c.id} ${chord}`).toBe(c.id);
      }
    }
  });

  it('the keyboard consumes exactly the keys the table names, with any modifiers', () => {
    const keys = [
      ...'abcdefghijklmnopqrstuvwxyz0123456789',
      ..."!?[]/\\-=.,;'`",
      'Escape',
      'Enter',
      ' ',
      'Delete',
      'Backspace',
      'Tab',
      'ArrowLeft',
      'F1',
    ];
    for (const k of keys) {
      for (let m = 0; m < 8; m++) {
        const mods = { ctrl: (m & 1) !== 0, alt: (m & 2) !== 0, shift: (m & 4) !== 0 };
        const e = key(mods.shift && k.length === 1 ? k.toUpperCase() : k, mods);
        const expected = findCommand(canvasCommands(), new Editor(), e) !== undefined;
        expect(new Editor().keyDown(e), JSON.stringify(e)).toBe(expected);
      }
    }
  });

  it('chords: the more specific match wins, Shift is free unless written, Ctrl and Alt are exact', () => {
    const ed = new Editor();
    const id = (e: KeyInfo) => findCommand(canvasCommands(), ed, e)?.id;
    expect(id(key('z', { ctrl: true }))).toBe('undo');
    expect(id(key('Z', { ctrl: true, shift: true }))).toBe('redo');
    expect(id(key('B', { shift: true }))).toBe('tool-box');
    expect(id(key('b', { ctrl: true }))).toBeUndefined();
    expect(id(key('Delete', { alt: true }))).toBeUndefined();
    expect(id(key('!', { shift: true }))).toBe('fit');
    expect(id(key('Escape', { alt: true }))).toBe('cancel');
    ed.toggleHelp(true);
    expect(id(key('Escape'))).toBe('close-help');
  });

  it('Esc cancels a stroke while Alt is held; Space held pans from any tool and is released', () => {
    const ed = new Editor({ width: 100, height: 100 });
    ed.setTool('brush');
    ed.pointerDown({ screen: { x: 50, y: 50 }, alt: false });
    ed.pointerMove({ screen: { x: 60, y: 50 } });
    expect(ed.keyDown(key('Escape', { alt: true }))).toBe(true);
    expect(ed.shapes).toHaveLength(0);
    ed.keyDown(key(' '));
    expect(ed.state.panning).toBe(true);
    ed.keyUp(key(' '));
    expect(ed.state.panning).toBe(false);
  });
});
