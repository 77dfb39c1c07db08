import { describe, expect, it } from 'vitest';
import {
  type CameraModel,
  parseCameraModel,
  project,
  projectedPath,
  schematicPath,
  sidecarCamera,
} from './path';

// A camera 2 m above the origin looking straight down (world z up): camera z = 2 - world z.
const cam: CameraModel = {
  intrinsics: [
    [100, 0, 64],
    [0, 100, 48],
    [0, 0, 1],
  ],
  world_to_camera: [
    [1, 0, 0, 0],
    [0, -1, 0, 0],
    [0, 0, -1, 2],
    [0, 0, 0, 1],
  ],
  width: 128,
  height: 96,
};

describe('action path projection', () => {
  it('projects the principal point to the image centre and scales with depth', () => {
    expect(project(cam, [0, 0, 0])).toEqual({ x: 0.5, y: 0.5 });
    const p = project(cam, [0.2, 0, 1])!; // 1 m from the camera: 0.2 m -> 20 px
    expect(p.x * 128).toBeCloseTo(84);
    expect(project(cam, [0, 0, 3])).toBeNull();
  });

  it('accumulates deltas from the end-effector and marks gripper closing', () => {
    const path = projectedPath(
      cam,
      [0, 0, 1],
      [
        [0.1, 0, 0, 0, 0, 0, -1],
        [0.1, 0.1, 0, 0, 0, 0, 1],
      ],
    );
    expect(path).toHaveLength(3);
    expect(path[2]!.p.x * 128).toBeCloseTo(84);
    expect(path[2]!.p.y * 96).toBeCloseTo(38);
    expect(path.map((q) => q.closed)).toEqual([false, false, true]);
  });

  it('the schematic path moves right for +x and up for +y', () => {
    const path = schematicPath({ x: 0.5, y: 0.5 }, [[1, 1, 0, 0, 0, 0, 0]], 0.1);
    expect(path[1]!.p.x).toBeCloseTo(0.6);
    expect(path[1]!.p.y).toBeCloseTo(0.4);
  });
});

describe('camera models from JSON', () => {
  it('accepts an OpenCV camera from a sidecar and rejects malformed ones', () => {
    const sidecar = { source: { camera_models: { front: { ...cam, convention: 'opencv' } } } };
    expect(sidecarCamera(sidecar, 'front')).toEqual(cam);
    expect(sidecarCamera(sidecar, 'wrist')).toBeNull();
    expect(parseCameraModel({ ...cam, intrinsics: [[1, 2]] })).toBeNull();
    expect(parseCameraModel({ ...cam, convention: 'opengl' })).toBeNull();
    expect(parseCameraModel({ ...cam, width: 0 })).toBeNull();
  });
});
