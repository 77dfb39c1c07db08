// The predicted action chunk as a path over the frame. With a camera model the end-effector
// positions (current position + cumulative deltas) are projected with the pinhole model; without
// one the path is schematic: normalised x/y deltas drawn from an anchor, clearly labelled as such.
import type { Vec } from '../canvas/geometry';

export type Mat3 = readonly [readonly number[], readonly number[], readonly number[]];
export type Mat4 = readonly (readonly number[])[];

export interface CameraModel {
  /** 3x3 intrinsics (pixels). */
  readonly intrinsics: Mat3;
  /** 4x4 world -> camera (OpenCV convention: x right, y down, z forward). */
  readonly world_to_camera: Mat4;
  readonly width: number;
  readonly height: number;
}

export interface PathPoint {
  /** Normalised image coordinates. */
  readonly p: Vec;
  /** Gripper command at this step: > 0 closes (binarised action), <= 0 opens. */
  readonly closed: boolean;
  /** False when the point is behind the camera. */
  readonly visible: boolean;
}

/** Projects a world point to normalised image coordinates; null behind the camera. */
export function project(cam: CameraModel, xyz: readonly [number, number, number]): Vec | null {
  const m = cam.world_to_camera;
  const c = [0, 1, 2].map(
    (r) => m[r]![0]! * xyz[0] + m[r]![1]! * xyz[1] + m[r]![2]! * xyz[2] + m[r]![3]!,
  ) as [number, number, number];
  if (c[2] <= 1e-6) return null;
  const k = cam.intrinsics;
  const u = (k[0][0]! * c[0] + k[0][1]! * c[1]) / c[2] + k[0][2]!;
  const v = (k[1][1]! * c[1]) / c[2] + k[1][2]!;
  return { x: u / cam.width, y: v / cam.height };
}

/** EE path from the current position and the chunk's (dx, dy, dz, ..., gripper) rows. */
export function projectedPath(
  cam: CameraModel,
  ee: readonly [number, number, number],
  actions: readonly (readonly number[])[],
): PathPoint[] {
  const out: PathPoint[] = [];
  let pos: [number, number, number] = [ee[0], ee[1], ee[2]];
  const start = project(cam, pos);
  out.push({ p: start ?? { x: 0.5, y: 0.5 }, closed: false, visible: start !== null });
  for (const a of actions) {
    pos = [pos[0] + a[0]!, pos[1] + a[1]!, pos[2] + a[2]!];
    const q = project(cam, pos);
    out.push({ p: q ?? { x: 0.5, y: 0.5 }, closed: (a[6] ?? 0) > 0, visible: q !== null });
  }
  return out;
}

/**
 * Without a camera: the normalised chunk's x/y deltas drawn from `anchor`, `stepFrac` of the frame
 * per unit action, image y pointing down (so +y actions, away from a front camera, go up).
 */
export function schematicPath(
  anchor: Vec,
  actionsNormalized: readonly (readonly number[])[],
  stepFrac = 0.05,
): PathPoint[] {
  const out: PathPoint[] = [{ p: anchor, closed: false, visible: true }];
  let { x, y } = anchor;
  for (const a of actionsNormalized) {
    x += (a[0] ?? 0) * stepFrac;
    y -= (a[1] ?? 0) * stepFrac;
    out.push({ p: { x, y }, closed: (a[6] ?? 0) > 0, visible: true });
  }
  return out;
}

const isMatrix = (m: unknown, rows: number, cols: number): boolean =>
  Array.isArray(m) &&
  m.length === rows &&
  m.every(
    (r) =>
      Array.isArray(r) && r.length === cols && r.every((v) => typeof v === 'number' && Number.isFinite(v)),
  );

/** A camera model from untrusted JSON (e.g. a dataset sidecar's camera_models entry), or null. */
export function parseCameraModel(x: unknown): CameraModel | null {
  if (typeof x !== 'object' || x === null) return null;
  const o = x as Record<string, unknown>;
  if (!isMatrix(o.intrinsics, 3, 3) || !isMatrix(o.world_to_camera, 4, 4)) return null;
  if (typeof o.width !== 'number' || typeof o.height !== 'number' || o.width <= 0 || o.height <= 0)
    return null;
  if (o.convention !== undefined && o.convention !== 'opencv') return null;
  return {
    intrinsics: o.intrinsics as unknown as Mat3,
    world_to_camera: o.world_to_camera as Mat4,
    width: o.width,
    height: o.height,
  };
}

/** The camera model for `camera` in a Pixel annotation sidecar (source.camera_models), if any. */
export function sidecarCamera(sidecar: unknown, camera: string): CameraModel | null {
  const models = (sidecar as { source?: { camera_models?: Record<string, unknown> } } | null | undefined)
    ?.source?.camera_models;
  return models ? parseCameraModel(models[camera]) : null;
}
