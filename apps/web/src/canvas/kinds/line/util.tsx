// The line kind: a line or polyline through normalised vertices (the model resamples it to 8
// points by arc length).
import { Circle, Group, Line } from 'react-konva';
import type { LinePrompt } from '@pixelvla/model';
import { type Vec, distToSegment, insideBox, shiftWithin } from '../../geometry';
import { type ShapeBase, newId } from '../../shapes';
import { LINE } from '../../view/colors';
import { EDGE_PX, type ShapeUtil, modelParser } from '../types';
import { LINE_TOOL } from './tool';

export interface LineShape extends ShapeBase {
  readonly kind: 'line';
  readonly points: readonly Vec[];
}

export const lineKind: ShapeUtil<LineShape, LinePrompt> = {
  kind: 'line',
  tools: [LINE_TOOL],
  handles: (s) => [...s.points],
  withHandle: (s, i, p) => ({ ...s, points: s.points.map((q, j) => (j === i ? p : q)) }),
  translated: (s, dx, dy) => {
    const xs = s.points.map((p) => p.x);
    const ys = s.points.map((p) => p.y);
    const ddx = shiftWithin(dx, Math.min(...xs), Math.max(...xs));
    const ddy = shiftWithin(dy, Math.min(...ys), Math.max(...ys));
    return { ...s, points: s.points.map((p) => ({ x: p.x + ddx, y: p.y + ddy })) };
  },
  hits: (s, p, { toScreen }) => {
    const pts = s.points.map(toScreen);
    return pts.some((q, i) => i > 0 && distToSegment(p, pts[i - 1]!, q) <= EDGE_PX);
  },
  meets: (s, r) => s.points.some((p) => insideBox(p, r)),
  anchor: (s) => s.points[0] ?? null,
  entry: (s) => ({
    label: s.points.length > 2 ? 'polyline' : 'line',
    color: LINE,
    detail: `${s.points.length} pts`,
  }),
  toJson: (s) => ({ type: 'line', points: s.points.map((p) => [p.x, p.y]) }),
  parse: modelParser('line'),
  fromPrompt: (p) => ({
    shape: { id: newId('line'), kind: 'line', points: p.points.map(([x, y]) => ({ x, y })) },
  }),
  node: (s, { toScreen, selected }) => {
    const pts = s.points.flatMap((p) => {
      const q = toScreen(p);
      return [q.x, q.y];
    });
    return (
      <Group>
        <Line points={pts} stroke="#0b0d10" strokeWidth={5} lineCap="round" lineJoin="round" opacity={0.6} />
        <Line points={pts} stroke={LINE} strokeWidth={selected ? 3 : 2.5} lineCap="round" lineJoin="round" />
        <Circle x={pts[0]} y={pts[1]} radius={3} fill={LINE} />
      </Group>
    );
  },
};
