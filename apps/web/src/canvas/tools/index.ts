// The TOOLS table: the navigation tools, then every registered kind's tools (kinds/index.ts).
// The toolbar, the shortcuts (canvas/commands.ts), the help overlay and the canvas cursor all
// read it.
import { kinds } from '../kinds';
import type { ToolSpec } from './StateNode';
import { SELECT_TOOL } from './select/SelectTool';
import { HAND_TOOL } from './hand/HandTool';

export type { ToolSpec } from './StateNode';

/** A tool's id: a row of the table (kinds registered later add rows). */
export type ToolId = string;

export function toolSpecs(): ToolSpec[] {
  return [SELECT_TOOL, HAND_TOOL, ...kinds().flatMap((k) => k.tools)];
}

export function toolSpec(id: ToolId): ToolSpec {
  const spec = toolSpecs().find((t) => t.id === id);
  if (!spec) throw new Error(`no tool '${id}'`);
  return spec;
}

/** The CSS cursor over the canvas: the tool's own, 'grab' while panning, none under a brush outline. */
export function cursorCss(spec: ToolSpec, panning: boolean): string {
  if (panning) return 'grab';
  return typeof spec.cursor === 'string' ? spec.cursor : 'none';
}
