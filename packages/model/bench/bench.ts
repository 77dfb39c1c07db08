// Prompt-encoder latency in onnxruntime-node (and onnxruntime-web's WASM backend under Node),
// plus featurisation time. Prints one JSON object.  npm run bench -w packages/model
import { readFileSync } from 'node:fs';
import { createPromptEncoder } from '../src/runner-web';
import { createNodePromptEncoder } from '../src/runner-node';
import { featurize, parsePrompts, type Prompt, type PromptFeatures } from '../src/prompts';
import type { PromptEncoderRunner } from '../src/runner-core';
import { readTestdata, TESTDATA_DIR, type FeaturizeCase } from '../src/testdata';

const WARMUP = 20;
const RUNS = 200;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function summary(ms: number[]): { p50_ms: number; p95_ms: number; mean_ms: number } {
  const s = [...ms].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return {
    p50_ms: r(percentile(s, 50)),
    p95_ms: r(percentile(s, 95)),
    mean_ms: r(ms.reduce((a, b) => a + b) / ms.length),
  };
}

async function timeRunner(runner: PromptEncoderRunner, f: PromptFeatures): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await runner.run(f);
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) ms.push((await runner.run(f)).ms);
  return ms;
}

async function main(): Promise<void> {
  const modelPath = TESTDATA_DIR + 'prompt_encoder.onnx';
  const cases = readTestdata<{ cases: FeaturizeCase[] }>('featurize.json').cases;
  // The heaviest case: 16 tokens with a line, boxes, points and two masks.
  const prompts: Prompt[] = parsePrompts(
    (cases.find((c) => c.name === 'sixteen_tokens') as FeaturizeCase).prompts,
  );
  const big: Prompt[] = parsePrompts(
    (cases.find((c) => c.name === 'mask_large_ellipse') as FeaturizeCase).prompts,
  );
  const features = featurize(prompts);

  let t0 = performance.now();
  const node = await createNodePromptEncoder({ modelPath });
  const nodeCreate = performance.now() - t0;
  const nodeMs = await timeRunner(node, features);
  await node.release();

  t0 = performance.now();
  const web = await createPromptEncoder({ modelBytes: readFileSync(modelPath), backend: 'wasm' });
  const webCreate = performance.now() - t0;
  const webMs = await timeRunner(web, features);
  await web.release();

  const featurizeMs = (ps: Prompt[]): number[] => {
    for (let i = 0; i < WARMUP; i++) featurize(ps);
    return Array.from({ length: RUNS }, () => {
      const s = performance.now();
      featurize(ps);
      return performance.now() - s;
    });
  };

  console.log(
    JSON.stringify({
      bench: 'prompt_encoder',
      model: 'packages/model/testdata/prompt_encoder.onnx',
      prompt: 'sixteen_tokens (line, 2 boxes, 2 points, 2 masks)',
      warmup: WARMUP,
      runs: RUNS,
      onnxruntime_node_cpu_1thread: { ...summary(nodeMs), session_create_ms: Math.round(nodeCreate) },
      onnxruntime_web_wasm_in_node: { ...summary(webMs), session_create_ms: Math.round(webCreate) },
      featurize_sixteen_tokens: summary(featurizeMs(prompts)),
      featurize_mask_480x640: summary(featurizeMs(big)),
    }),
  );
}

void main();
