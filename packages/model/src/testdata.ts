// Readers for the Python-generated vectors in packages/model/testdata (tests and bench only).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const TESTDATA_DIR = fileURLToPath(new URL('../testdata/', import.meta.url));

export interface StoredArray {
  dtype: string;
  shape: number[];
  b64: string;
}

export function readTestdata<T>(name: string): T {
  return JSON.parse(readFileSync(TESTDATA_DIR + name, 'utf8')) as T;
}

export function bytesOf(a: StoredArray | string): Uint8Array {
  return new Uint8Array(Buffer.from(typeof a === 'string' ? a : a.b64, 'base64'));
}

export function float32Of(a: StoredArray): Float32Array {
  if (a.dtype !== '<f4') throw new Error(`expected <f4, got ${a.dtype}`);
  return new Float32Array(bytesOf(a).slice().buffer);
}

export function int32Of(a: StoredArray): Int32Array {
  if (a.dtype !== '<i4') throw new Error(`expected <i4, got ${a.dtype}`);
  return new Int32Array(bytesOf(a).slice().buffer);
}

export interface FeaturizeCase {
  name: string;
  prompts: unknown;
  features: Record<'coords' | 'types' | 'index' | 'mask_slot' | 'masks' | 'valid', StoredArray>;
  /** PyTorch's tokens for the valid rows; null for the random geometry cases. */
  tokens: StoredArray | null;
}
