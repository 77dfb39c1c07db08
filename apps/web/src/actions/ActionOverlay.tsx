// The action chunk over the frame: a fading path with a dot per step, hollow rings where the
// gripper opens and filled squares where it closes.
import { Circle, Group, Line, Rect, Text } from 'react-konva';
import type { Vec } from '../canvas/geometry';
import type { PathPoint } from './path';

export function ActionOverlay({
  path,
  toScreen,
  label,
  color = '#00e5ff',
}: {
  path: readonly PathPoint[];
  toScreen: (p: Vec) => Vec;
  label: string;
  color?: string;
}) {
  const pts = path.filter((q) => q.visible).map((q) => ({ ...q, s: toScreen(q.p) }));
  if (pts.length === 0) return null;
  const flat = pts.flatMap((q) => [q.s.x, q.s.y]);
  const head = pts.at(-1)!.s;
  return (
    <Group>
      <Line points={flat} stroke="#000" strokeWidth={6} opacity={0.45} lineCap="round" lineJoin="round" />
      <Line points={flat} stroke={color} strokeWidth={2.5} lineCap="round" lineJoin="round" />
      {pts.map((q, i) => {
        const changed = i > 0 && q.closed !== pts[i - 1]!.closed;
        return (
          <Group key={i} x={q.s.x} y={q.s.y}>
            <Circle radius={2.5} fill={color} />
            {changed &&
              (q.closed ? (
                <Rect x={-6} y={-6} width={12} height={12} fill="#ff9f1a" stroke="#000" strokeWidth={1.5} />
              ) : (
                <Circle radius={7} stroke="#ff9f1a" strokeWidth={2.5} />
              ))}
          </Group>
        );
      })}
      <Circle x={pts[0]!.s.x} y={pts[0]!.s.y} radius={5} stroke={color} strokeWidth={2} />
      <Text
        x={head.x + 8}
        y={head.y - 6}
        text={label}
        fontSize={11}
        fill={color}
        shadowColor="#000"
        shadowBlur={3}
        shadowOpacity={1}
      />
    </Group>
  );
}
