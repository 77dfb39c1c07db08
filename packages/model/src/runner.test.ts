import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PromptError } from './errors';
import { featurize, parsePrompts } from './prompts';
import { createPromptEncoder } from './runner-web';
import { createNodePromptEncoder } from './runner-node';
import type { PromptEncoderRunner } from './runner-core';
import { float32Of, readTestdata, TESTDATA_DIR, type FeaturizeCase, type StoredArray } from './testdata';

const cases = readTestdata<{ cases: FeaturizeCase[] }>('featurize.json').cases.filter(
  (c) => c.tokens !== null,
);
const modelPath = TESTDATA_DIR + 'prompt_encoder.onnx';

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

describe('onnxruntime-node tokens match PyTorch (testdata/featurize.json)', () => {
  let runner: PromptEncoderRunner;
  beforeAll(async () => {
    runner = await createNodePromptEncoder({ modelPath });
  }, 60_000);
  afterAll(() => runner.release());

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const out = await runner.encode(parsePrompts(c.prompts));
    const want = float32Of(c.tokens as StoredArray); // the valid rows, from PyTorch
    expect(out.tokens.length).toBe(16 * 256);
    expect(maxAbsDiff(out.tokens.subarray(0, want.length), want)).toBeLessThan(1e-4);
    expect(out.tokens.subarray(want.length).every((v) => v === 0)).toBe(true);
    expect(out.valid.reduce((a, b) => a + b, 0) * 256).toBe(want.length);
    expect(out.backend).toBe('cpu');
    expect(out.ms).toBeGreaterThanOrEqual(0);
  });

  it('rejects malformed features before running', async () => {
    const f = featurize([]);
    await expect(runner.run({ ...f, types: new Int32Array(3) })).rejects.toThrow(PromptError);
    await expect(runner.run({ ...f, coords: new Float32Array(32).fill(Infinity) })).rejects.toThrow(/NaN/);
  });

  it('fails loudly on a file that is not a model', async () => {
    await expect(createNodePromptEncoder({ modelBytes: new Uint8Array([1, 2, 3]) })).rejects.toMatchObject({
      code: 'encoder_failed',
    });
  });
});

describe('onnxruntime-web (WASM backend, run in Node) gives the same tokens', () => {
  it('matches PyTorch on a mixed prompt', async () => {
    const runner = await createPromptEncoder({ modelBytes: readFileSync(modelPath), backend: 'wasm' });
    const c = cases.find((x) => x.name === 'sixteen_tokens') as FeaturizeCase;
    const out = await runner.encode(parsePrompts(c.prompts));
    expect(out.backend).toBe('wasm');
    expect(maxAbsDiff(out.tokens, float32Of(c.tokens as StoredArray))).toBeLessThan(1e-4);
    await runner.release();
  }, 60_000); // loading the wasm build takes seconds on a busy 2-core machine

  it("falls back to WASM under 'auto' when there is no WebGPU adapter", async () => {
    const runner = await createPromptEncoder({ modelBytes: readFileSync(modelPath), backend: 'auto' });
    expect(runner.backend).toBe('wasm');
    await runner.release();
  }, 60_000);
});

describe('the committed public model', () => {
  it('is described by its JSON (sha256, shapes)', () => {
    const dir = fileURLToPath(new URL('../../../public/models/', import.meta.url));
    const bytes = readFileSync(dir + 'prompt_encoder.onnx');
    const meta = JSON.parse(readFileSync(dir + 'prompt_encoder.json', 'utf8')) as {
      sha256: string;
      opset: number;
      outputs: { tokens: { shape: number[] } };
    };
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(meta.sha256);
    expect(meta.opset).toBeGreaterThanOrEqual(17);
    expect(meta.outputs.tokens.shape).toEqual([1, 16, 256]);
  });
});
