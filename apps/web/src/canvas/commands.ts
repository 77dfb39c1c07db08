// The canvas's command table: a shortcut per tool (from the TOOLS table), then the editor's own
// commands. Editor.keyDown dispatches through it and the help overlay lists it, row for row.
import { type Command, shownKeys } from '../app/commands';
import type { Editor } from './editor';
import { toolSpecs } from './tools';

export type EditorCommand = Command<Editor>;

const EDITOR_COMMANDS: readonly EditorCommand[] = [
  { id: 'undo', keys: ['Ctrl+Z'], label: 'Undo', perform: (ed) => ed.undo() },
  { id: 'redo', keys: ['Ctrl+Shift+Z', 'Ctrl+Y'], label: 'Redo', perform: (ed) => ed.redo() },
  {
    id: 'delete',
    keys: ['Delete', 'Backspace'],
    label: 'Delete selection',
    perform: (ed) => ed.deleteShapes(ed.state.selected),
  },
  {
    id: 'close-help',
    keys: ['Esc'],
    label: 'Close this help',
    anyModifiers: true,
    when: (ed) => ed.state.helpOpen,
    perform: (ed) => ed.toggleHelp(false),
  },
  {
    id: 'cancel',
    keys: ['Esc'],
    label: 'Cancel the current gesture',
    anyModifiers: true,
    perform: (ed) => ed.cancel(),
  },
  {
    id: 'complete',
    keys: ['Enter'],
    label: 'Finish polyline / polygon',
    anyModifiers: true,
    perform: (ed) => ed.complete(),
  },
  {
    id: 'brush-size',
    keys: ['[', ']'],
    label: 'Brush size',
    perform: (ed, e) => ed.setBrushRadius(ed.state.brushRadius * (e.key === ']' ? 1.25 : 0.8)),
  },
  {
    id: 'pan',
    keys: ['Space'],
    shown: 'Space + drag',
    label: 'Pan',
    anyModifiers: true,
    perform: (ed) => ed.holdPan(true),
    release: (ed) => ed.holdPan(false),
  },
  // Shift+1 arrives as '!' (US layout), as it always has here.
  { id: 'fit', keys: ['Shift+!'], shown: 'Shift+1', label: 'Fit the frame', perform: (ed) => ed.fitView() },
  { id: 'help', keys: ['?'], label: 'This help', perform: (ed) => ed.toggleHelp() },
];

/** Pointer gestures the help lists beside the keys (no key to dispatch). */
export const GESTURES: readonly { readonly keys: string; readonly label: string }[] = [
  { keys: 'Wheel', label: 'Zoom at the cursor' },
];

export function canvasCommands(): EditorCommand[] {
  const tools = toolSpecs().map((t): EditorCommand => ({
    id: `tool-${t.id}`,
    keys: [t.key.toUpperCase()],
    label: t.label,
    hint: t.hint,
    perform: (ed) => ed.setTool(t.id),
  }));
  return [...tools, ...EDITOR_COMMANDS];
}

/** A command's keys as the help shows them, for tooltips ("Undo (Ctrl+Z)"). */
export function keysOf(id: string): string {
  const c = canvasCommands().find((x) => x.id === id);
  if (!c) throw new Error(`no canvas command '${id}'`);
  return shownKeys(c);
}
