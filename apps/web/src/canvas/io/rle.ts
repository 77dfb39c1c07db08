// COCO RLE for canvas masks: @pixelvla/model's codec (pycocotools-compatible, shared with Python
// through testdata vectors). MaskBitmap and the codec's BinaryMask have the same row-major shape.
export { decodeRle, encodeRle as encodeMask, RleError, type CompressedRle, type Rle } from '@pixelvla/model';
