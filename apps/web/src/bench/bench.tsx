// In-page benchmarks driven by scripts/bench.mjs through headless Chromium. Results land on
// window.__bench as JSON-able objects.
import { createRoot } from 'react-dom/client';
import { EncoderClient } from '../encoder/client';
import type { Backend } from '../encoder/protocol';
import type { PromptJson } from '../canvas/io/prompts';
import { Editor } from '../canvas/editor';
import { CanvasView } from '../canvas/view/CanvasView';
import { emptyMask, paintDisc } from '../canvas/tools/mask/raster';
import { encodeMask } from '../canvas/io/rle';

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

function benchPrompts(): PromptJson[] {
  const m = emptyMask(224, 224);
  paintDisc(m, { x: 100, y: 120 }, 30, 1);
  const rle = encodeMask(m);
  return [
    { type: 'point', x: 0.4, y: 0.5, positive: true },
    { type: 'box', x0: 0.2, y0: 0.3, x1: 0.6, y1: 0.7 },
    {
      type: 'line',
      points: [
        [0.1, 0.1],
        [0.5, 0.4],
        [0.9, 0.2],
      ],
    },
    { type: 'mask', rle: { size: [rle.size[0], rle.size[1]], counts: rle.counts } },
  ];
}

async function encoderBench(prefer: Backend, runs = 200, warmup = 20) {
  const client = new EncoderClient({ prefer });
  const prompts = benchPrompts();
  await client.encode(prompts); // waits for the session
  const st = client.status.getState();
  if (st.state !== 'ready') throw new Error(st.error ?? 'encoder not ready');
  for (let i = 0; i < warmup; i++) await client.encode(prompts);
  const run: number[] = [];
  const roundTrip: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = await client.encode(prompts);
    roundTrip.push(performance.now() - t0);
    if (r) run.push(r.runMs);
  }
  const s = client.status.getState();
  client.dispose();
  return {
    requested: prefer,
    backend: s.backend,
    fallback_reason: s.fallbackReason,
    session_create_ms: s.createMs,
    runs,
    run_p50_ms: quantile(run, 0.5),
    run_p95_ms: quantile(run, 0.95),
    round_trip_p50_ms: quantile(roundTrip, 0.5),
    featurize_ms_last: s.lastFeaturizeMs,
  };
}

async function brushBench(seconds = 3) {
  const root = document.getElementById('root')!;
  const frame = document.createElement('canvas');
  frame.width = 1280;
  frame.height = 720;
  const g = frame.getContext('2d')!;
  const grad = g.createLinearGradient(0, 0, 1280, 720);
  grad.addColorStop(0, '#445');
  grad.addColorStop(1, '#a97');
  g.fillStyle = grad;
  g.fillRect(0, 0, 1280, 720);
  const editor = new Editor({ width: 1280, height: 720 }, 'brush');
  editor.setBrushRadius(20);
  createRoot(root).render(<CanvasView editor={editor} frame={frame} />);
  await new Promise((r) => setTimeout(r, 500));
  const el = root.querySelector<HTMLElement>('[data-testid=canvas]')!;
  const box = el.getBoundingClientRect();
  const fire = (type: string, x: number, y: number): void => {
    el.dispatchEvent(
      new PointerEvent(type, {
        clientX: box.left + x,
        clientY: box.top + y,
        pointerId: 1,
        bubbles: true,
        button: 0,
        buttons: 1,
        pointerType: 'mouse',
      }),
    );
  };
  fire('pointerdown', 100, 100);
  const frameTimes: number[] = [];
  let frames = 0;
  const t0 = performance.now();
  let last = t0;
  await new Promise<void>((done) => {
    const tick = (now: number): void => {
      frames++;
      frameTimes.push(now - last);
      last = now;
      const t = (now - t0) / 1000;
      // A lissajous scribble across the whole frame, several pointer events per frame.
      for (let k = 0; k < 4; k++) {
        const u = t * 2 + k * 0.004;
        fire('pointermove', 640 + 560 * Math.sin(u * 1.3), 360 + 300 * Math.sin(u * 2.1));
      }
      if (now - t0 < seconds * 1000) requestAnimationFrame(tick);
      else done();
    };
    requestAnimationFrame(tick);
  });
  fire('pointerup', 640, 360);
  const elapsed = (performance.now() - t0) / 1000;
  return {
    frame: '1280x720',
    seconds: elapsed,
    frames,
    fps: frames / elapsed,
    frame_ms_p50: quantile(frameTimes.slice(1), 0.5),
    frame_ms_p95: quantile(frameTimes.slice(1), 0.95),
    undo_entries: editor.history.labels.undo.length,
  };
}

declare global {
  interface Window {
    __bench: { encoder: typeof encoderBench; brush: typeof brushBench; hasAdapter: () => Promise<boolean> };
  }
}

window.__bench = {
  encoder: encoderBench,
  brush: brushBench,
  hasAdapter: async () => {
    const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
    return gpu ? (await gpu.requestAdapter().catch(() => null)) !== null : false;
  },
};
