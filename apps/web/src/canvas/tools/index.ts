// The one TOOLS table: the toolbar, the keyboard shortcuts and the help overlay all read it.
import type { Editor } from '../editor';
import type { ToolNode } from './StateNode';
import { SelectTool } from './select/SelectTool';
import { HandTool } from './hand/HandTool';
import { PointTool } from './point/PointTool';
import { LineTool } from './line/LineTool';
import { BoxTool } from './box/BoxTool';
import { BrushTool } from './mask/BrushTool';
import { EraserTool } from './eraser/EraserTool';
import { PolygonTool } from './polygon/PolygonTool';

export interface ToolSpec {
  readonly id: string;
  readonly label: string;
  /** Single-key shortcut (lower case). */
  readonly key: string;
  /** A glyph for the toolbar button. */
  readonly glyph: string;
  readonly hint: string;
  /** Toolbar group, so the bar can separate navigation, vector prompts and mask tools. */
  readonly group: 'navigate' | 'prompt' | 'mask';
  readonly create: (editor: Editor) => ToolNode;
}

export const TOOLS = [
  {
    id: 'select',
    label: 'Select',
    key: 'v',
    glyph: '➚',
    group: 'navigate',
    hint: 'Select, move, drag vertices; Delete removes',
    create: (e) => new SelectTool(e),
  },
  {
    id: 'hand',
    label: 'Pan',
    key: 'h',
    glyph: '✋',
    group: 'navigate',
    hint: 'Drag to pan (or hold Space with any tool)',
    create: (e) => new HandTool(e),
  },
  {
    id: 'point',
    label: 'Point',
    key: 'p',
    glyph: '●',
    group: 'prompt',
    hint: 'Click: positive point; Alt or right click: negative',
    create: (e) => new PointTool(e),
  },
  {
    id: 'negative',
    label: 'Negative point',
    key: 'n',
    glyph: '⊖',
    group: 'prompt',
    hint: 'Click: negative point ("not this")',
    create: (e) => new PointTool(e, true),
  },
  {
    id: 'line',
    label: 'Line',
    key: 'l',
    glyph: '╱',
    group: 'prompt',
    hint: 'Drag: line; clicks: polyline, Enter or double-click ends',
    create: (e) => new LineTool(e),
  },
  {
    id: 'box',
    label: 'Box',
    key: 'b',
    glyph: '▭',
    group: 'prompt',
    hint: 'Drag a box around the target',
    create: (e) => new BoxTool(e),
  },
  {
    id: 'brush',
    label: 'Mask brush',
    key: 'm',
    glyph: '🖌',
    group: 'mask',
    hint: 'Paint the mask; [ and ] size; Alt erases',
    create: (e) => new BrushTool(e),
  },
  {
    id: 'eraser',
    label: 'Eraser',
    key: 'e',
    glyph: '⌫',
    group: 'mask',
    hint: 'Erase from the active mask',
    create: (e) => new EraserTool(e),
  },
  {
    id: 'polygon',
    label: 'Polygon to mask',
    key: 'g',
    glyph: '⬠',
    group: 'mask',
    hint: 'Click vertices, close on the first or Enter; fills the mask',
    create: (e) => new PolygonTool(e),
  },
] as const satisfies readonly ToolSpec[];

export type ToolId = (typeof TOOLS)[number]['id'];

export function toolForKey(key: string): ToolId | undefined {
  return TOOLS.find((t) => t.key === key.toLowerCase())?.id;
}

/** Shortcuts that are not tools, listed in the help overlay beside the TOOLS table. */
export const COMMANDS: readonly { readonly keys: string; readonly label: string }[] = [
  { keys: 'Ctrl+Z', label: 'Undo' },
  { keys: 'Ctrl+Shift+Z / Ctrl+Y', label: 'Redo' },
  { keys: 'Delete', label: 'Delete selection' },
  { keys: 'Esc', label: 'Cancel the current gesture' },
  { keys: 'Enter', label: 'Finish polyline / polygon' },
  { keys: '[ / ]', label: 'Brush size' },
  { keys: 'Space + drag', label: 'Pan' },
  { keys: 'Wheel', label: 'Zoom at the cursor' },
  { keys: 'Shift+1', label: 'Fit the frame' },
  { keys: '?', label: 'This help' },
];
