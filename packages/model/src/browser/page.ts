// Test page for browser.test.ts: runs the real browser runner (onnxruntime-web) on one prompt list.
import { createPromptEncoder } from '../runner-web';
import { parsePrompts } from '../prompts';

export interface BrowserCheckResult {
  backend: string;
  tokens: number[];
  valid: number[];
}

declare global {
  interface Window {
    pixelvlaCheck: (backend: 'webgpu' | 'wasm' | 'auto', prompts: unknown) => Promise<BrowserCheckResult>;
  }
}

window.pixelvlaCheck = async (backend, prompts) => {
  // Absolute: ORT resolves a relative prefix against its own script, not the page.
  const wasmPaths = new URL('./ort/', window.location.href).href;
  const runner = await createPromptEncoder({ modelUrl: './prompt_encoder.onnx', backend, wasmPaths });
  try {
    const out = await runner.encode(parsePrompts(prompts));
    return { backend: out.backend, tokens: Array.from(out.tokens), valid: Array.from(out.valid) };
  } finally {
    await runner.release();
  }
};
