/* global window */
// `npm run bench -w apps/web`: builds the studio, serves it with `vite preview` on a free port and
// measures in headless Debian Chromium: prompt-encoder latency on WASM, on WebGPU where an adapter
// exists (SwiftShader flags from ORT-WEB.md), and the brush frame rate on a 1280x720 frame.
// Prints one JSON object on stdout.
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const app = resolve(here, '..');
const log = (m) => process.stderr.write(`bench: ${m}\n`);

const freePort = () =>
  new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });

if (!process.env.BENCH_SKIP_BUILD) {
  log('vite build');
  execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], {
    cwd: app,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
const port = await freePort();
const preview = spawn('npx', ['vite', 'preview', '--port', String(port), '--strictPort'], {
  cwd: app,
  stdio: 'ignore',
  detached: true,
});
const stop = () => {
  try {
    process.kill(-preview.pid);
  } catch {
    /* already gone */
  }
};
process.on('exit', stop);
const url = `http://127.0.0.1:${port}/bench.html`;
for (let i = 0; i < 100; i++) {
  try {
    if ((await fetch(url)).ok) break;
  } catch {
    /* not up yet */
  }
  await new Promise((r) => setTimeout(r, 200));
}

const BASE = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const WEBGPU = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-angle=swiftshader',
  '--use-webgpu-adapter=swiftshader',
];
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

async function inPage(args, fn, arg) {
  const browser = await chromium.launch({ executablePath, args });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    page.on('pageerror', (e) => log(`page error: ${e.message}`));
    await page.goto(url);
    await page.waitForFunction(() => window.__bench !== undefined);
    return await page.evaluate(fn, arg);
  } finally {
    await browser.close();
  }
}

const out = {
  chromium: execFileSync(executablePath, ['--version'], { encoding: 'utf8' }).trim(),
  goal_wasm_p50_ms: 2,
};
log('encoder on WASM');
out.encoder_wasm = await inPage(BASE, () => window.__bench.encoder('wasm'));
log('encoder on WebGPU (SwiftShader)');
try {
  const has = await inPage([...BASE, ...WEBGPU], () => window.__bench.hasAdapter());
  out.encoder_webgpu = has
    ? await inPage([...BASE, ...WEBGPU], () => window.__bench.encoder('webgpu', 50, 5))
    : { skipped: 'no WebGPU adapter in this Chromium' };
} catch (e) {
  out.encoder_webgpu = { error: String(e).slice(0, 300) };
}
log('brush stroke on 1280x720');
out.brush = await inPage(BASE, () => window.__bench.brush(3));
out.encoder_wasm_meets_goal = out.encoder_wasm.run_p50_ms <= out.goal_wasm_p50_ms;
console.log(JSON.stringify(out, null, 2));
stop();
process.exit(0);
