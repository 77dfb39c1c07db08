// Loss curves with uPlot: one series per run, x = step. The chart is created once and fed with
// setData, so a live run redraws without rebuilding the plot.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Curve {
  readonly label: string;
  readonly steps: readonly number[];
  readonly values: readonly number[];
}

const COLORS = ['#5aa9ff', '#ff9f1a', '#3ecf8e', '#ff4fa3', '#b18cff', '#f5c542'];

/** Merges curves onto one shared, sorted x axis (uPlot's aligned-data format). */
export function alignCurves(curves: readonly Curve[]): uPlot.AlignedData {
  const xs = [...new Set(curves.flatMap((c) => c.steps))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = curves.map((c) => {
    const y: (number | null)[] = new Array<number | null>(xs.length).fill(null);
    c.steps.forEach((s, i) => (y[index.get(s)!] = c.values[i]!));
    return y;
  });
  return [xs, ...ys] as uPlot.AlignedData;
}

export function LossChart({
  curves,
  height = 220,
  metric = 'loss',
}: {
  curves: readonly Curve[];
  height?: number;
  metric?: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const labels = curves.map((c) => c.label).join('|');

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: el.clientWidth,
      height,
      scales: { x: { time: false } },
      axes: [
        { stroke: '#9aa1ad', grid: { stroke: '#2e323b' }, label: 'step' },
        { stroke: '#9aa1ad', grid: { stroke: '#2e323b' }, label: metric },
      ],
      series: [
        { label: 'step' },
        ...curves.map((c, i) => ({
          label: c.label,
          stroke: COLORS[i % COLORS.length],
          width: 1.5,
          spanGaps: true,
        })),
      ],
      legend: { show: true },
    };
    plot.current = new uPlot(opts, alignCurves(curves), el);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: el.clientWidth, height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // Rebuild only when the set of series changes; data updates go through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [labels, height, metric]);

  useEffect(() => {
    plot.current?.setData(alignCurves(curves));
  }, [curves]);

  return <div ref={box} className="chart" data-testid="loss-chart" />;
}
