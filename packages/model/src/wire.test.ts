import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { WireError } from './errors';
import { NdArray, packMessage, unpackMessage, type DType, type WireValue } from './wire';
import { bytesOf, readTestdata, type StoredArray } from './testdata';

interface WireCase {
  name: string;
  msgpack: string;
  value: unknown;
}
const cases = readTestdata<{ cases: WireCase[] }>('wire.json').cases;

const CTORS: Record<DType, (b: ArrayBuffer) => NdArray['data']> = {
  '|b1': (b) => new Uint8Array(b),
  '|u1': (b) => new Uint8Array(b),
  '|i1': (b) => new Int8Array(b),
  '<u2': (b) => new Uint16Array(b),
  '<i2': (b) => new Int16Array(b),
  '<u4': (b) => new Uint32Array(b),
  '<i4': (b) => new Int32Array(b),
  '<i8': (b) => new BigInt64Array(b),
  '<f2': (b) => new Uint16Array(b),
  '<f4': (b) => new Float32Array(b),
  '<f8': (b) => new Float64Array(b),
};

/** The JSON description in wire.json -> the value TypeScript should decode to. */
function expected(v: unknown): WireValue {
  if (Array.isArray(v)) return v.map(expected);
  if (v === null || typeof v !== 'object') return v as WireValue;
  const d = v as Record<string, unknown>;
  if (d.__ndarray__ === true) {
    const a = d as unknown as StoredArray;
    return new NdArray(a.dtype as DType, a.shape, CTORS[a.dtype as DType](bytesOf(a).slice().buffer));
  }
  if (typeof d.__bytes__ === 'string') return bytesOf(d.__bytes__);
  return Object.fromEntries(Object.entries(d).map(([k, x]) => [k, expected(x)]));
}

describe('wire codec against Python (testdata/wire.json)', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s decodes and re-encodes byte for byte', (_name, c) => {
    const bytes = bytesOf(c.msgpack);
    const want = expected(c.value);
    expect(unpackMessage(bytes)).toEqual(want);
    expect(Buffer.from(packMessage(want)).equals(Buffer.from(bytes))).toBe(true);
  });
});

describe('wire codec', () => {
  it('round-trips a Float32 NdArray view that does not start at offset 0', () => {
    const backing = new Float32Array([9, 1, 2, 3, 4, 5, 6]);
    const a = new NdArray('<f4', [2, 3], backing.subarray(1));
    const out = unpackMessage(packMessage({ a })) as { a: NdArray<Float32Array> };
    expect(out.a.shape).toEqual([2, 3]);
    expect([...out.a.data]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('accepts openpi bin keys', () => {
    // msgpack.packb({b"__ndarray__": True, b"data": float32([1.5]).tobytes(), b"dtype": "<f4",
    // b"shape": (1,)}, use_bin_type=True): what openpi's own packer sends.
    const hex =
      '84c40b5f5f6e6461727261795f5fc3c40464617461c4040000c03fc4056474797065a33c6634c40573686170659101';
    const out = unpackMessage(new Uint8Array(Buffer.from(hex, 'hex')));
    expect(out).toBeInstanceOf(NdArray);
    expect((out as NdArray<Float32Array>).data[0]).toBe(1.5);
  });

  const arr = (over: Record<string, unknown>) =>
    encode({ __ndarray__: true, data: new Uint8Array(8), dtype: '<f4', shape: [2], ...over });

  it.each([
    ['truncated', new Uint8Array([0x92, 0x01]), 'malformed'],
    ['reserved byte', new Uint8Array([0xc1]), 'malformed'],
    ['empty', new Uint8Array([]), 'malformed'],
    ['size mismatch', arr({ data: new Uint8Array(7) }), 'needs 8'],
    ['object dtype', arr({ dtype: '|O' }), 'not allowed'],
    ['big-endian dtype', arr({ dtype: '>f4' }), 'not allowed'],
    ['negative shape', arr({ shape: [-2] }), 'non-negative'],
    ['string data', arr({ data: 'text' }), 'bin'],
    ['marker not true', arr({ __ndarray__: 1 }), 'true'],
    ['ext type', new Uint8Array([0xd4, 0x01, 0x00]), 'extension'],
    ['nesting bomb', new Uint8Array([...new Array(5000).fill(0x91), 0x00]), 'deeper'],
  ])('rejects %s', (_name, bytes, fragment) => {
    let err: unknown;
    try {
      unpackMessage(bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WireError);
    expect((err as WireError).code).toBe('invalid_message');
    expect((err as WireError).message).toContain(fragment);
  });

  it('enforces the size limit and refuses unwrapped typed arrays', () => {
    expect(() => unpackMessage(new Uint8Array(200), { maxBytes: 100 })).toThrow(/limit/);
    expect(() => packMessage({ x: new Float32Array(2) as unknown as WireValue })).toThrow(/NdArray/);
    expect(() => new NdArray('<f4', [3], new Float32Array(2))).toThrow(WireError);
    expect(() => new NdArray('<f4', [2], new Float64Array(2))).toThrow(WireError);
  });
});
