import { defineConfig } from '@playwright/test';
import { fileURLToPath } from 'node:url';

// Both real servers, on ports that do not clash with a running `npm start`.
const root = fileURLToPath(new URL('..', import.meta.url));
const SERVER_PORT = Number(process.env.E2E_SERVER_PORT ?? 18000);
const STUDIO_PORT = Number(process.env.E2E_STUDIO_PORT ?? 14173);
export const STUDIO_URL = `http://127.0.0.1:${STUDIO_PORT}`;

export default defineConfig({
  testDir: './tests',
  outputDir: '../test-results/e2e',
  timeout: 60_000,
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: STUDIO_URL,
    viewport: { width: 1280, height: 800 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
    trace: 'retain-on-failure',
  },
  webServer: [
    {
      // A small sim dataset (resumable: a no-op once it exists) so the pages have frames to show.
      command:
        `.venv/bin/pixelvla-sim gen --episodes 4 --seed 0 --out var/e2e/datasets/sim-sample >/dev/null 2>&1 && ` +
        `.venv/bin/python -m pixelvla_server --port ${SERVER_PORT} --device cpu --data-dir var/e2e --log-level warning`,
      cwd: root,
      url: `http://127.0.0.1:${SERVER_PORT}/healthz`,
      timeout: 120_000,
      reuseExistingServer: false,
      env: { MUJOCO_GL: 'osmesa', PYOPENGL_PLATFORM: 'osmesa' },
      stdout: 'pipe',
      stderr: 'pipe',
    },
    {
      command: `npx vite preview --port ${STUDIO_PORT} --strictPort`,
      cwd: `${root}/apps/web`,
      url: STUDIO_URL,
      timeout: 60_000,
      reuseExistingServer: false,
      env: { PIXELVLA_SERVER_URL: `http://127.0.0.1:${SERVER_PORT}` },
    },
  ],
});
