// The mask record. Its pixels are not in the record: the editor keeps one MaskBitmap per mask
// (the brush, eraser and polygon paint into the active one) and bumps `rev` on every change.
import { type ShapeBase, newId } from '../../shapes';

export interface MaskShape extends ShapeBase {
  readonly kind: 'mask';
  /** Bumped on every committed pixel change so React views know to refresh. */
  readonly rev: number;
}

export const isMask = (s: ShapeBase | undefined): s is MaskShape => s?.kind === 'mask';

export const newMask = (): MaskShape => ({ id: newId('mask'), kind: 'mask', rev: 0 });
