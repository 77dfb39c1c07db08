import { describe, expect, it } from 'vitest';
import { type ActionSpace, gripperDelta, jogDelta, jointForKey, layoutOf } from './jog';

const SIM: ActionSpace = {
  action_names: ['dx', 'dy', 'dz', 'droll', 'dpitch', 'dyaw', 'gripper'],
  action_low: [-0.05, -0.05, -0.05, -0.2, -0.2, -0.2, 0],
  action_high: [0.05, 0.05, 0.05, 0.2, 0.2, 0.2, 1],
  action_kind: 'delta',
};
const SO101: ActionSpace = {
  action_names: [
    'shoulder_pan.pos',
    'shoulder_lift.pos',
    'elbow_flex.pos',
    'wrist_flex.pos',
    'wrist_roll.pos',
    'gripper.pos',
  ],
  action_low: [-100, -100, -100, -100, -100, 0],
  action_high: [100, 100, 100, 100, 100, 100],
  action_kind: 'absolute',
};
const POINT: ActionSpace = { action_names: ['ax', 'ay'], action_low: [-1, -1], action_high: [1, 1] };

describe('jog in the robot action space', () => {
  it('moves the sim hand and keeps its gripper (6 of 7 components)', () => {
    expect(layoutOf(SIM)).toBe('cartesian');
    expect(jogDelta(SIM, 'ArrowRight', false, 0)).toEqual([0.02, 0, 0, 0, 0, 0]);
    expect(jogDelta(SIM, 'PageDown', true, 0)?.[2]).toBeCloseTo(-0.06);
    expect(jogDelta(SIM, '1', false, 0)).toBeNull();
    expect(gripperDelta(SIM, true)).toEqual([0, 0, 0, 0, 0, 0, 1]);
    expect(gripperDelta(SIM, false)).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });

  it('moves one joint of an absolute arm by a fiftieth of its range, all six components sent', () => {
    expect(layoutOf(SO101)).toBe('joints');
    expect(jointForKey(SO101, '2')).toBe(1);
    expect(jointForKey(SO101, '6')).toBeNull(); // five joints: the gripper is O / C
    expect(jogDelta(SO101, 'ArrowUp', false, 1)).toEqual([0, 4, 0, 0, 0, 0]);
    expect(jogDelta(SO101, 'ArrowDown', true, 4)).toEqual([0, 0, 0, 0, -12, 0]);
    expect(jogDelta(SO101, 'PageUp', false, 1)).toBeNull();
    expect(gripperDelta(SO101, true)).toEqual([0, 0, 0, 0, 0, 25]);
    expect(gripperDelta(SO101, false)).toEqual([0, 0, 0, 0, 0, -25]);
  });

  it('gives a robot without a gripper its full vector and no gripper keys', () => {
    expect(jogDelta(POINT, 'ArrowLeft', false, 0)).toEqual([-0.04, 0]);
    expect(gripperDelta(POINT, true)).toBeNull();
    expect(jointForKey(POINT, '3')).toBeNull();
  });
});
