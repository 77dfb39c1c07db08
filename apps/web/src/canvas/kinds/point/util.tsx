// The point kind: a positive or negative ("not this") click at a normalised position.
import { Circle, Group, Line } from 'react-konva';
import type { PointPrompt } from '@pixelvla/model';
import { clampNorm, dist, insideBox } from '../../geometry';
import { type ShapeBase, newId } from '../../shapes';
import { NEGATIVE, POSITIVE, SELECTION } from '../../view/colors';
import { type ShapeUtil, modelParser } from '../types';
import { NEGATIVE_TOOL, POINT_TOOL } from './tool';

export interface PointShape extends ShapeBase {
  readonly kind: 'point';
  readonly x: number;
  readonly y: number;
  readonly positive: boolean;
}

/** Screen px within which a press picks a point (its dot is 6.5 px). */
export const POINT_PX = 9;

export const pointKind: ShapeUtil<PointShape, PointPrompt> = {
  kind: 'point',
  tools: [POINT_TOOL, NEGATIVE_TOOL],
  handles: () => [],
  withHandle: (s) => s,
  translated: (s, dx, dy) => ({ ...s, ...clampNorm({ x: s.x + dx, y: s.y + dy }) }),
  hits: (s, p, { toScreen }) => dist(toScreen(s), p) <= POINT_PX,
  meets: (s, r) => insideBox(s, r),
  anchor: (s) => ({ x: s.x, y: s.y }),
  entry: (s) => ({
    label: s.positive ? 'point +' : 'point −',
    color: s.positive ? POSITIVE : NEGATIVE,
    detail: `${s.x.toFixed(3)}, ${s.y.toFixed(3)}`,
  }),
  toJson: (s) => ({ type: 'point', x: s.x, y: s.y, positive: s.positive }),
  parse: modelParser('point'),
  fromPrompt: (p) => ({ shape: { id: newId('point'), kind: 'point', x: p.x, y: p.y, positive: p.positive } }),
  node: (s, { toScreen, selected }) => {
    const p = toScreen(s);
    return (
      <Group x={p.x} y={p.y}>
        <Circle
          radius={selected ? 8 : 6.5}
          fill={s.positive ? POSITIVE : NEGATIVE}
          stroke={selected ? SELECTION : '#0b0d10'}
          strokeWidth={2}
        />
        <Line
          points={s.positive ? [-3, 0, 3, 0, 0, 0, 0, -3, 0, 3] : [-3, 0, 3, 0]}
          stroke="#0b0d10"
          strokeWidth={1.6}
        />
      </Group>
    );
  },
};
