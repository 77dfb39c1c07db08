/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

// The studio talks to the GPU server through this proxy in dev and preview, so the browser sees one
// origin (and the server's CORS stays limited to the studio's own origin).
const serverUrl = process.env.PIXELVLA_SERVER_URL ?? 'http://127.0.0.1:8000';
const proxy = {
  '/v1': { target: serverUrl, ws: true, changeOrigin: false },
  '/healthz': { target: serverUrl },
  '/openapi.json': { target: serverUrl },
};
// Cross-origin isolation lets onnxruntime-web use WASM threads (see shared ORT-WEB.md).
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'credentialless',
};

export default defineConfig({
  plugins: [react()],
  publicDir: fileURLToPath(new URL('../../public', import.meta.url)),
  server: { host: '127.0.0.1', port: 5173, strictPort: true, proxy, headers: isolation },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true, proxy, headers: isolation },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  assetsInclude: ['**/*.onnx'],
  build: {
    target: 'es2022',
    sourcemap: true,
    // bench.html hosts the in-browser benchmarks (scripts/bench.mjs); it ships nothing to users.
    rollupOptions: { input: { main: 'index.html', bench: 'bench.html' } },
  },
  worker: { format: 'es' },
  test: { name: 'web', environment: 'node', include: ['src/**/*.test.{ts,tsx}'] },
});
