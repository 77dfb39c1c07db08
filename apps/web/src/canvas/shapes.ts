// The prompt records the canvas edits. Coordinates are normalised image coordinates in [0,1]
// (x right, y down), the same convention as pixelvla.prompts, so nothing depends on zoom or on
// the frame's pixel size. Mask pixels live in a MaskBitmap beside the record (see raster.ts).
// Each kind's record and everything it does live in its folder under kinds/; this module is
// what every record shares.

/** Every record: its id and its kind (the registry's key, kinds/index.ts). */
export interface ShapeBase {
  readonly id: string;
  readonly kind: string;
}

/** The built-in kinds' records (a union derived from the registry's list). */
export type { Shape } from './kinds';

let counter = 0;
/** Short unique ids; deterministic order within a session is all the canvas needs. */
export function newId(kind: string): string {
  counter += 1;
  return `${kind}-${Date.now().toString(36)}-${counter.toString(36)}`;
}
