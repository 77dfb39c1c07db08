// The box kind: an axis-aligned box, top-left corner first, with non-zero area.
import { Rect } from 'react-konva';
import type { BoxPrompt } from '@pixelvla/model';
import { type Corners, shiftWithin } from '../../geometry';
import { type ShapeBase, newId } from '../../shapes';
import { BOX } from '../../view/colors';
import { EDGE_PX, type ShapeUtil, modelParser } from '../types';
import { BOX_TOOL } from './tool';

export interface BoxShape extends ShapeBase, Corners {
  readonly kind: 'box';
}

const corners = (s: Corners) => [
  { x: s.x0, y: s.y0 },
  { x: s.x1, y: s.y0 },
  { x: s.x1, y: s.y1 },
  { x: s.x0, y: s.y1 },
];

export const boxKind: ShapeUtil<BoxShape, BoxPrompt> = {
  kind: 'box',
  tools: [BOX_TOOL],
  handles: corners,
  withHandle: (s, i, p) => {
    // Corner i moves; the opposite corner (i + 2) stays put.
    const opp = corners(s)[(i + 2) % 4]!;
    return {
      ...s,
      x0: Math.min(p.x, opp.x),
      y0: Math.min(p.y, opp.y),
      x1: Math.max(p.x, opp.x),
      y1: Math.max(p.y, opp.y),
    };
  },
  translated: (s, dx, dy) => {
    const ddx = shiftWithin(dx, s.x0, s.x1);
    const ddy = shiftWithin(dy, s.y0, s.y1);
    return { ...s, x0: s.x0 + ddx, x1: s.x1 + ddx, y0: s.y0 + ddy, y1: s.y1 + ddy };
  },
  hits: (s, p, { toScreen }) => {
    const a = toScreen({ x: s.x0, y: s.y0 });
    const b = toScreen({ x: s.x1, y: s.y1 });
    return p.x >= a.x - EDGE_PX && p.x <= b.x + EDGE_PX && p.y >= a.y - EDGE_PX && p.y <= b.y + EDGE_PX;
  },
  meets: (s, r) => s.x0 <= r.x1 && s.x1 >= r.x0 && s.y0 <= r.y1 && s.y1 >= r.y0,
  anchor: (s) => ({ x: (s.x0 + s.x1) / 2, y: (s.y0 + s.y1) / 2 }),
  entry: (s) => ({
    label: 'box',
    color: BOX,
    detail: `${(s.x1 - s.x0).toFixed(2)}×${(s.y1 - s.y0).toFixed(2)}`,
  }),
  toJson: (s) => ({ type: 'box', x0: s.x0, y0: s.y0, x1: s.x1, y1: s.y1 }),
  parse: modelParser('box'),
  fromPrompt: (p) => ({ shape: { id: newId('box'), kind: 'box', x0: p.x0, y0: p.y0, x1: p.x1, y1: p.y1 } }),
  node: (s, { toScreen, selected }) => {
    const a = toScreen({ x: s.x0, y: s.y0 });
    const b = toScreen({ x: s.x1, y: s.y1 });
    return (
      <Rect
        x={a.x}
        y={a.y}
        width={b.x - a.x}
        height={b.y - a.y}
        stroke={BOX}
        strokeWidth={selected ? 2.5 : 2}
        fill="rgba(90,169,255,0.08)"
        shadowColor="#000"
        shadowBlur={2}
        shadowOpacity={0.8}
      />
    );
  },
};
