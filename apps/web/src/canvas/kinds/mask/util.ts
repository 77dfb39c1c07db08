// The mask kind: a binary mask at the frame's resolution, sent as COCO RLE. A mask with no
// pixels points at nothing (the model rejects it), so the editor never keeps one: a stroke that
// erases the last pixel removes the mask in the same undo entry (Editor.endMaskStroke).
import { type CompressedRle, type MaskPrompt, PromptError, decodeRle, encodeRle } from '@pixelvla/model';
import { maskAt } from '../../raster';
import { type ShapeUtil, modelParser } from '../types';
import { POLYGON_TOOL } from '../polygon/tool';
import { MaskLayer } from './MaskLayer';
import { type MaskShape, newMask } from './shape';
import { BRUSH_TOOL, ERASER_TOOL } from './tool';

/** What the canvas exports: always the compressed string form. */
export interface MaskJson {
  readonly type: 'mask';
  readonly rle: CompressedRle;
}

export const maskKind: ShapeUtil<MaskShape, MaskJson, MaskPrompt> = {
  kind: 'mask',
  tools: [BRUSH_TOOL, ERASER_TOOL, POLYGON_TOOL],
  handles: () => [],
  withHandle: (s) => s,
  // Pixels stay where they were painted.
  translated: (s) => s,
  hits: (s, _p, { image, mask }) => {
    const m = mask(s.id);
    return m !== undefined && maskAt(m, image);
  },
  meets: () => false,
  anchor: () => null,
  entry: (s) => ({ label: 'mask', color: '#ff4fa3', detail: `rev ${s.rev}` }),
  toJson: (_s, bitmap) => {
    if (!bitmap) return null;
    const rle = encodeRle(bitmap);
    return { type: 'mask', rle: { size: [rle.size[0], rle.size[1]], counts: rle.counts } };
  },
  parse: modelParser('mask'),
  fromPrompt: (p, frame) => {
    const bitmap = decodeRle(p.rle);
    if (bitmap.width !== frame.width || bitmap.height !== frame.height) {
      throw new PromptError(
        `mask is ${bitmap.width}x${bitmap.height}, the frame is ${frame.width}x${frame.height}`,
      );
    }
    return { shape: newMask(), bitmap };
  },
  Layer: MaskLayer,
};
