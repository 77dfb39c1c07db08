// Keyboard jog in the robot's own action space, as the session describes it (`robot` in the
// session info: action names, limits, action_kind). Two layouts:
// - cartesian: a robot whose first actions are dx, dy, dz (the sim, LIBERO): arrows move x / y,
//   PageUp / PageDown z; the gripper (when it is the last action) stays as it is, O / C set it.
// - joints: anything else (a LeRobot arm's joint targets): 1..9 pick a joint, ↑ / ↓ (or → / ←)
//   move it by a fiftieth of its range; O / C open and close the gripper by a quarter of its range.
// Every jog is a delta; for an absolute robot the server adds it to the robot's state.

export interface ActionSpace {
  readonly action_names: readonly string[];
  readonly action_low: readonly number[];
  readonly action_high: readonly number[];
  readonly action_kind?: string;
}

export type JogLayout = 'cartesian' | 'joints';

/** The sim's end-effector step (metres per key press); Shift triples it. */
export const CARTESIAN_STEP = 0.02;
/** A joint's step: this fraction of its range per key press; Shift triples it. */
export const JOINT_STEP = 1 / 50;
const GRIPPER_STEP = 1 / 4;

const CARTESIAN_KEYS: Record<string, [number, number]> = {
  ArrowRight: [0, 1],
  ArrowLeft: [0, -1],
  ArrowUp: [1, 1],
  ArrowDown: [1, -1],
  PageUp: [2, 1],
  PageDown: [2, -1],
};
const JOINT_KEYS: Record<string, number> = { ArrowUp: 1, ArrowRight: 1, ArrowDown: -1, ArrowLeft: -1 };

export function layoutOf(space: ActionSpace): JogLayout {
  const [a, b, c] = space.action_names;
  return a === 'dx' && b === 'dy' && c === 'dz' ? 'cartesian' : 'joints';
}

/** The gripper's action component: the last one named like a gripper, or -1. */
export function gripperIndex(space: ActionSpace): number {
  for (let i = space.action_names.length - 1; i >= 0; i--) {
    if (space.action_names[i]?.toLowerCase().includes('gripper')) return i;
  }
  return -1;
}

/** The joints a joints-layout jog can pick (1..9): every action but the gripper. */
export function jointsOf(space: ActionSpace): number[] {
  const g = gripperIndex(space);
  return space.action_names.map((_, i) => i).filter((i) => i !== g);
}

/** What a delta robot keeps as it is when its gripper is last: the jog sends one component fewer. */
function keepsGripper(space: ActionSpace): boolean {
  const g = gripperIndex(space);
  return space.action_kind !== 'absolute' && g >= 0 && g === space.action_names.length - 1;
}

function zeros(space: ActionSpace): number[] {
  const n = space.action_names.length - (keepsGripper(space) ? 1 : 0);
  return new Array<number>(n).fill(0);
}

/**
 * The jog `delta` a key press sends (null: not a jog key for this robot). `joint` is the picked
 * joint's action index in the joints layout.
 */
export function jogDelta(space: ActionSpace, key: string, shift: boolean, joint: number): number[] | null {
  const scale = shift ? 3 : 1;
  if (layoutOf(space) === 'cartesian') {
    const axis = CARTESIAN_KEYS[key];
    if (!axis) return null;
    const delta = zeros(space);
    delta[axis[0]] = axis[1] * CARTESIAN_STEP * scale;
    return delta;
  }
  const sign = JOINT_KEYS[key];
  if (sign === undefined || joint < 0 || joint >= space.action_names.length) return null;
  const delta = zeros(space);
  delta[joint] =
    sign * ((space.action_high[joint] ?? 0) - (space.action_low[joint] ?? 0)) * JOINT_STEP * scale;
  return delta;
}

/** The jog that opens (close = false) or closes the gripper; null for a robot without one. */
export function gripperDelta(space: ActionSpace, close: boolean): number[] | null {
  const g = gripperIndex(space);
  if (g < 0) return null;
  const lo = space.action_low[g] ?? 0;
  const hi = space.action_high[g] ?? 1;
  if (space.action_kind === 'absolute') {
    const delta = new Array<number>(space.action_names.length).fill(0);
    delta[g] = (close ? 1 : -1) * (hi - lo) * GRIPPER_STEP;
    return delta;
  }
  // A delta robot's gripper is a command (the sim's: 0 open .. 1 closed): the whole vector, the hand still.
  const delta = new Array<number>(space.action_names.length).fill(0);
  delta[g] = close ? hi : lo;
  return delta;
}

/** The joint that key `1`..`9` picks (an action index), or null. */
export function jointForKey(space: ActionSpace, key: string): number | null {
  if (layoutOf(space) !== 'joints' || !/^[1-9]$/.test(key)) return null;
  return jointsOf(space)[Number(key) - 1] ?? null;
}
