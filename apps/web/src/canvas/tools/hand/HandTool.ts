// The hand pans the view. Space held (or the middle button) pans from any tool (see Editor).
import type { Vec } from '../../geometry';
import { type PointerInfo, StateNode, type ToolSpec, idle } from '../StateNode';

class Panning extends StateNode {
  readonly id = 'panning';
  private last: Vec = { x: 0, y: 0 };
  override onEnter(info?: unknown): void {
    this.last = (info as PointerInfo).screen;
  }
  override onPointerMove(e: PointerInfo): void {
    this.editor.panScreen(e.screen.x - this.last.x, e.screen.y - this.last.y);
    this.last = e.screen;
  }
  override onPointerUp(): void {
    this.rest();
  }
}

export const HAND_TOOL: ToolSpec = {
  id: 'hand',
  icon: 'M8 12.5V6a1.4 1.4 0 012.8 0v5M10.8 5a1.4 1.4 0 012.8 0v6M13.6 6a1.4 1.4 0 012.8 0v7c0 4-2.4 7-6 7-3 0-4.6-1.6-6.2-4.6L3 12.6a1.3 1.3 0 012.2-1.3L8 14',
  label: 'Pan',
  key: 'h',
  group: 'navigate',
  hint: 'Drag to pan (or hold Space with any tool)',
  cursor: 'grab',
  states: [idle('panning'), Panning],
};
