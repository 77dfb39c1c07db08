// The browser runner in real Chromium: onnxruntime-web on WASM and on WebGPU (SwiftShader's
// software adapter, so it runs on GPU-less CI) must reproduce PyTorch's tokens.
import { copyFileSync, createReadStream, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float32Of, readTestdata, TESTDATA_DIR, type FeaturizeCase, type StoredArray } from './testdata';
import type { BrowserCheckResult } from './browser/page';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const BASE_FLAGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const WEBGPU_FLAGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-angle=swiftshader',
  '--use-webgpu-adapter=swiftshader',
];
const here = path.dirname(fileURLToPath(import.meta.url));
const ortDist = path.dirname(
  fileURLToPath(import.meta.resolve('onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm')),
);
const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
};

const cases = readTestdata<{ cases: FeaturizeCase[] }>('featurize.json').cases;
const mixed = cases.find((c) => c.name === 'sixteen_tokens') as FeaturizeCase;
const want = float32Of(mixed.tokens as StoredArray);

let dir = '';
let server: http.Server;
let url = '';

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'pixelvla-browser-'));
  await build({
    root: path.join(here, 'browser'),
    base: './',
    logLevel: 'error',
    configFile: false,
    build: { outDir: dir, emptyOutDir: false, target: 'es2022' },
  });
  mkdirSync(path.join(dir, 'ort'));
  for (const f of ['ort-wasm-simd-threaded.jsep.wasm', 'ort-wasm-simd-threaded.jsep.mjs']) {
    copyFileSync(path.join(ortDist, f), path.join(dir, 'ort', f));
  }
  copyFileSync(path.join(TESTDATA_DIR, 'prompt_encoder.onnx'), path.join(dir, 'prompt_encoder.onnx'));
  server = http.createServer((req, res) => {
    const rel = decodeURIComponent((req.url ?? '/').split('?')[0] as string);
    const file = path.join(dir, rel === '/' ? 'index.html' : rel);
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}, 120_000);

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** One Chromium (with a SwiftShader WebGPU adapter) runs the page once per backend. */
async function runInBrowser(
  backends: readonly ('webgpu' | 'wasm' | 'auto')[],
): Promise<BrowserCheckResult[]> {
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [...BASE_FLAGS, ...WEBGPU_FLAGS],
  });
  try {
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForFunction(() => typeof window.pixelvlaCheck === 'function');
    const results: BrowserCheckResult[] = [];
    for (const backend of backends) {
      results.push(
        await page.evaluate(([b, p]) => window.pixelvlaCheck(b, p), [backend, mixed.prompts] as const),
      );
    }
    return results;
  } finally {
    await browser.close();
  }
}

function maxAbsDiff(tokens: number[]): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++)
    worst = Math.max(worst, Math.abs((tokens[i] as number) - (want[i] as number)));
  return worst;
}

describe('prompt encoder in Chromium', () => {
  it('WASM and WebGPU reproduce PyTorch; auto avoids the software adapter', async () => {
    const [wasm, gpu, auto] = (await runInBrowser(['wasm', 'webgpu', 'auto'])) as [
      BrowserCheckResult,
      BrowserCheckResult,
      BrowserCheckResult,
    ];
    expect(wasm.backend).toBe('wasm');
    expect(maxAbsDiff(wasm.tokens)).toBeLessThan(1e-4);
    expect(gpu.backend).toBe('webgpu');
    // Measured 1.9e-4 on SwiftShader: WGSL's sin/cos are not exact. The layout bug this guards
    // against (int64 casts on WebGPU picking wrong embedding rows) gave errors above 1.
    expect(maxAbsDiff(gpu.tokens)).toBeLessThan(1e-3);
    for (const out of [wasm, gpu]) expect(out.tokens.slice(want.length).every((v) => v === 0)).toBe(true);
    expect(auto.backend).toBe('wasm');
  }, 240_000);
});
