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
  /** SVG path (24x24, stroked) for the toolbar button. */
  readonly icon: string;
  readonly hint: string;
  /** Toolbar group, so the bar can separate navigation, vector prompts and mask tools. */
  readonly group: 'navigate' | 'prompt' | 'mask';
  readonly create: (editor: Editor) => ToolNode;
}

export const TOOLS = [
  {
    id: 'select',
    icon: 'M6 3l12 8.5-5.2 1.2L10 18z',
    label: 'Select',
    key: 'v',
    group: 'navigate',
    hint: 'Select, move, drag vertices; Delete removes',
    create: (e) => new SelectTool(e),
  },
  {
    id: 'hand',
    icon: 'M8 12.5V6a1.4 1.4 0 012.8 0v5M10.8 5a1.4 1.4 0 012.8 0v6M13.6 6a1.4 1.4 0 012.8 0v7c0 4-2.4 7-6 7-3 0-4.6-1.6-6.2-4.6L3 12.6a1.3 1.3 0 012.2-1.3L8 14',
    label: 'Pan',
    key: 'h',
    group: 'navigate',
    hint: 'Drag to pan (or hold Space with any tool)',
    create: (e) => new HandTool(e),
  },
  {
    id: 'point',
    icon: 'M12 7a5 5 0 110 10 5 5 0 010-10zM12 9.5v5M9.5 12h5',
    label: 'Point',
    key: 'p',
    group: 'prompt',
    hint: 'Click: positive point; Alt or right click: negative',
    create: (e) => new PointTool(e),
  },
  {
    id: 'negative',
    icon: 'M12 7a5 5 0 110 10 5 5 0 010-10zM9.5 12h5',
    label: 'Negative point',
    key: 'n',
    group: 'prompt',
    hint: 'Click: negative point ("not this")',
    create: (e) => new PointTool(e, true),
  },
  {
    id: 'line',
    icon: 'M4 18l6-8 5 4 5-9',
    label: 'Line',
    key: 'l',
    group: 'prompt',
    hint: 'Drag: line; clicks: polyline, Enter or double-click ends',
    create: (e) => new LineTool(e),
  },
  {
    id: 'box',
    icon: 'M5 6h14v12H5z',
    label: 'Box',
    key: 'b',
    group: 'prompt',
    hint: 'Drag a box around the target',
    create: (e) => new BoxTool(e),
  },
  {
    id: 'brush',
    icon: 'M19.5 3.5l1 1-8.5 9.5-2-2zM9 13c-2.5 0-4 1.6-4 4.5 0 .8-.5 1.6-1.5 2 3.5.8 7-.6 7.5-4.5',
    label: 'Mask brush',
    key: 'm',
    group: 'mask',
    hint: 'Paint the mask; [ and ] size; Alt erases',
    create: (e) => new BrushTool(e),
  },
  {
    id: 'eraser',
    icon: 'M14.5 4.5l5 5-9 9.5H7l-3.5-3.5zM9.5 9.5l5 5M10 19h10',
    label: 'Eraser',
    key: 'e',
    group: 'mask',
    hint: 'Erase from the active mask',
    create: (e) => new EraserTool(e),
  },
  {
    id: 'polygon',
    icon: 'M12 3.5l8 6-3 10H7l-3-10z',
    label: 'Polygon to mask',
    key: 'g',
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
