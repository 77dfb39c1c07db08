// "Open image...": the file must be an image the browser can decode (anything else is a visible,
// named error, not an uncaught rejection), and an image larger than the server accepts is
// downscaled on open, so what is drawn on is what Predict sends.
import { MAX_IMAGE_SIDE } from '@pixelvla/model';
import type { Size } from '../canvas/geometry';

/** The GPU server's limit on a frame's side (pixelvla/observation.py, published as the served
 * model's `observation.max_image_side`): the ceiling every model's spec is within. */
export { MAX_IMAGE_SIDE };

export class ImageOpenError extends Error {
  readonly code = 'not_an_image';
}

/** The size that fits `max` on its longer side, keeping the aspect ratio (never upscales). */
export function fitSide(size: Size, max: number = MAX_IMAGE_SIDE): Size {
  const long = Math.max(size.width, size.height);
  if (long <= max) return size;
  const k = max / long;
  return {
    width: Math.max(1, Math.min(max, Math.round(size.width * k))),
    height: Math.max(1, Math.min(max, Math.round(size.height * k))),
  };
}

export interface OpenedImage {
  readonly bitmap: ImageBitmap;
  readonly name: string;
  /** The file's own size; differs from the bitmap's when it was downscaled. */
  readonly original: Size;
}

export async function openImage(file: File): Promise<OpenedImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    const what = file.type ? `a ${file.type} file` : 'not a file type the browser knows';
    throw new ImageOpenError(
      `${file.name} is not an image this browser can open (${what}); use PNG, JPEG or WebP`,
    );
  }
  const original = { width: bitmap.width, height: bitmap.height };
  if (original.width === 0 || original.height === 0) {
    bitmap.close();
    throw new ImageOpenError(`${file.name} has no pixels (${original.width}x${original.height})`);
  }
  const target = fitSide(original);
  if (target.width === original.width && target.height === original.height) {
    return { bitmap, name: file.name, original };
  }
  const small = await createImageBitmap(bitmap, {
    resizeWidth: target.width,
    resizeHeight: target.height,
    resizeQuality: 'high',
  });
  bitmap.close();
  return { bitmap: small, name: file.name, original };
}
