// One palette for every view of prompts, so a mask in the canvas and its swatch in a list agree.
export const POSITIVE = '#3ecf8e';
export const NEGATIVE = '#ff5d5d';
export const BOX = '#5aa9ff';
export const LINE = '#f5c542';
export const SELECTION = '#ffffff';
export const MASK_COLORS: readonly (readonly [number, number, number])[] = [
  [255, 79, 163],
  [90, 169, 255],
  [255, 176, 59],
  [150, 110, 255],
];
/** Mask fill opacity (0-255): enough to see, light enough to see the object through it. */
export const MASK_ALPHA = 110;
