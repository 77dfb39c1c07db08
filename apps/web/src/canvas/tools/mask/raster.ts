// The mask bitmaps' pixel maths moved to canvas/raster.ts (the editor core uses it, not only the
// mask tools); this path stays for src/bench, which imports it from here.
export * from '../../raster';
