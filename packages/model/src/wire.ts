// msgpack codec for messages carrying arrays, in openpi's layout: an array travels as the map
// {"__ndarray__": true, "data": <bin>, "dtype": "<f4", "shape": [...]} (C order, little-endian).
// The TypeScript twin of pixelvla/wire.py; testdata/wire.json pins the bytes.
//
// In messages, a Uint8Array is raw bytes (msgpack bin); arrays with a dtype and shape are NdArray.
// Decoding: '|b1' comes back as Uint8Array (0/1), '<f2' as Uint16Array of raw half-float bits,
// '<i8' as BigInt64Array. Plain integers must fit a double exactly (bigint is accepted when packing).

import { decode, encode, ExtData } from '@msgpack/msgpack';
import { WireError } from './errors';

export const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;
const MAX_DEPTH = 512;

export type DType = '|b1' | '|u1' | '|i1' | '<u2' | '<i2' | '<u4' | '<i4' | '<i8' | '<f2' | '<f4' | '<f8';
export type TypedArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

interface DTypeInfo {
  bytes: number;
  make: (buffer: ArrayBuffer) => TypedArray;
  accepts: (a: TypedArray) => boolean;
}

const DTYPES: Readonly<Record<DType, DTypeInfo>> = {
  '|b1': { bytes: 1, make: (b) => new Uint8Array(b), accepts: (a) => a instanceof Uint8Array },
  '|u1': { bytes: 1, make: (b) => new Uint8Array(b), accepts: (a) => a instanceof Uint8Array },
  '|i1': { bytes: 1, make: (b) => new Int8Array(b), accepts: (a) => a instanceof Int8Array },
  '<u2': { bytes: 2, make: (b) => new Uint16Array(b), accepts: (a) => a instanceof Uint16Array },
  '<i2': { bytes: 2, make: (b) => new Int16Array(b), accepts: (a) => a instanceof Int16Array },
  '<u4': { bytes: 4, make: (b) => new Uint32Array(b), accepts: (a) => a instanceof Uint32Array },
  '<i4': { bytes: 4, make: (b) => new Int32Array(b), accepts: (a) => a instanceof Int32Array },
  '<i8': { bytes: 8, make: (b) => new BigInt64Array(b), accepts: (a) => a instanceof BigInt64Array },
  '<f2': { bytes: 2, make: (b) => new Uint16Array(b), accepts: (a) => a instanceof Uint16Array },
  '<f4': { bytes: 4, make: (b) => new Float32Array(b), accepts: (a) => a instanceof Float32Array },
  '<f8': { bytes: 8, make: (b) => new Float64Array(b), accepts: (a) => a instanceof Float64Array },
};
const ALIASES: Readonly<Record<string, DType>> = { bool: '|b1', '<b1': '|b1', '<u1': '|u1', '<i1': '|i1' };

export function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, s);
}

/** An n-dimensional array: `data` in C order, `shape` its dimensions. */
export class NdArray<T extends TypedArray = TypedArray> {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: T;

  constructor(dtype: DType, shape: readonly number[], data: T) {
    if (!isDType(dtype)) throw new WireError(`dtype ${JSON.stringify(dtype)} is not allowed`);
    if (!shape.every((s) => Number.isInteger(s) && s >= 0)) {
      throw new WireError(`shape must be non-negative integers, got ${JSON.stringify(shape)}`);
    }
    if (!DTYPES[dtype].accepts(data))
      throw new WireError(`dtype ${dtype} does not match ${data.constructor.name}`);
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== data.length)
      throw new WireError(`shape ${JSON.stringify(shape)} needs ${n} values, got ${data.length}`);
    this.dtype = dtype;
    this.shape = [...shape];
    this.data = data;
  }
}

export type WireValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | NdArray
  | WireValue[]
  | { [key: string]: WireValue };

function toEncodable(v: WireValue, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new WireError(`message nests deeper than ${MAX_DEPTH} levels`);
  if (v instanceof NdArray) {
    const d = v.data;
    return {
      __ndarray__: true,
      data: new Uint8Array(d.buffer, d.byteOffset, d.byteLength),
      dtype: v.dtype,
      shape: [...v.shape],
    };
  }
  if (Array.isArray(v)) return v.map((x) => toEncodable(x, depth + 1));
  if (v instanceof Uint8Array || v === null || typeof v !== 'object') {
    if (typeof v === 'function' || typeof v === 'symbol' || v === undefined) {
      throw new WireError(`cannot serialise a ${typeof v}`);
    }
    return v;
  }
  if (ArrayBuffer.isView(v))
    throw new WireError('wrap typed arrays in NdArray (dtype and shape) to send them');
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = toEncodable(x, depth + 1);
  return out;
}

/** Serialise a message; NdArray values become openpi array maps. */
export function packMessage(value: WireValue): Uint8Array {
  const encodable = toEncodable(value, 0);
  try {
    return encode(encodable, { useBigInt64: true });
  } catch (e) {
    throw new WireError(`cannot serialise message: ${(e as Error).message}`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeArray(d: Record<string, unknown>): NdArray {
  const rawDtype = d.dtype;
  const dtype = typeof rawDtype === 'string' ? (ALIASES[rawDtype] ?? rawDtype) : rawDtype;
  if (!isDType(dtype)) {
    throw new WireError(
      `array dtype ${JSON.stringify(rawDtype)} is not allowed; allowed: ${Object.keys(DTYPES)}`,
    );
  }
  const data = d.data;
  if (!(data instanceof Uint8Array)) throw new WireError("array 'data' must be msgpack bin bytes");
  const shape = d.shape;
  if (!Array.isArray(shape) || !shape.every((s) => typeof s === 'number' && Number.isInteger(s) && s >= 0)) {
    throw new WireError(
      `array 'shape' must be a list of non-negative integers, got ${JSON.stringify(shape)}`,
    );
  }
  const info = DTYPES[dtype];
  const n = (shape as number[]).reduce((a, b) => a * b, 1);
  if (n * info.bytes !== data.length) {
    throw new WireError(
      `array data has ${data.length} bytes but shape ${JSON.stringify(shape)} of ${dtype} needs ${n * info.bytes}`,
    );
  }
  // Copy into a fresh, aligned buffer: the bin may sit at any offset inside the message.
  return new NdArray(dtype, shape as number[], info.make(data.slice().buffer));
}

function fromDecoded(v: unknown, depth: number): WireValue {
  if (depth > MAX_DEPTH)
    throw new WireError(`malformed msgpack message: nests deeper than ${MAX_DEPTH} levels`);
  if (v instanceof ExtData || v instanceof Date)
    throw new WireError('msgpack extension types are not accepted');
  if (Array.isArray(v)) return v.map((x) => fromDecoded(x, depth + 1));
  if (v instanceof Uint8Array || v === null || typeof v !== 'object') return v as WireValue;
  const d = v as Record<string, unknown>;
  if ('__ndarray__' in d) {
    if (d.__ndarray__ !== true) throw new WireError("'__ndarray__' must be true");
    return decodeArray(d);
  }
  if ('__npgeneric__' in d) {
    const x = d.data;
    if (typeof x !== 'number' && typeof x !== 'boolean' && typeof x !== 'bigint') {
      throw new WireError("numpy scalar 'data' must be a number");
    }
    return x;
  }
  const out: { [key: string]: WireValue } = {};
  for (const [k, x] of Object.entries(d)) out[k] = fromDecoded(x, depth + 1);
  return out;
}

/** Parse a message from packMessage, pixelvla.wire.packb or openpi's packer. */
export function unpackMessage(bytes: Uint8Array, options: { maxBytes?: number } = {}): WireValue {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (!(bytes instanceof Uint8Array)) throw new WireError('message must be a Uint8Array');
  if (bytes.length > maxBytes)
    throw new WireError(`message is ${bytes.length} bytes; the limit is ${maxBytes}`);
  let decoded: unknown;
  try {
    decoded = decode(bytes, {
      useBigInt64: false,
      // openpi writes its array keys as bin; accept them as the strings they spell.
      mapKeyConverter: (key: unknown): string | number => {
        if (typeof key === 'string' || typeof key === 'number') return key;
        if (key instanceof Uint8Array) return utf8.decode(key);
        throw new WireError('map keys must be strings or numbers');
      },
    });
  } catch (e) {
    if (e instanceof WireError) throw e;
    throw new WireError(`malformed msgpack message: ${(e as Error).message}`);
  }
  return fromDecoded(decoded, 0);
}
