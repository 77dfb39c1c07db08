import { useState } from 'react';

/** A drawn 640x480 tabletop used when no dataset frame is available, so the tools still work. */
export function useScratchFrame(): HTMLCanvasElement {
  const [frame] = useState(() => {
    const c = document.createElement('canvas');
    c.width = 640;
    c.height = 480;
    const g = c.getContext('2d')!;
    const sky = g.createLinearGradient(0, 0, 0, 480);
    sky.addColorStop(0, '#5b6470');
    sky.addColorStop(1, '#2f343b');
    g.fillStyle = sky;
    g.fillRect(0, 0, 640, 480);
    g.fillStyle = '#8a6d4b';
    g.beginPath();
    g.moveTo(60, 470);
    g.lineTo(580, 470);
    g.lineTo(520, 230);
    g.lineTo(120, 230);
    g.fill();
    const blocks: [string, number, number, number][] = [
      ['#d64545', 220, 330, 46],
      ['#3f8fd6', 360, 300, 40],
      ['#46b36b', 440, 380, 52],
    ];
    for (const [col, x, y, s] of blocks) {
      g.fillStyle = col;
      g.fillRect(x, y, s, s);
      g.fillStyle = 'rgba(0,0,0,0.25)';
      g.fillRect(x, y + s - 8, s, 8);
    }
    return c;
  });
  return frame;
}
