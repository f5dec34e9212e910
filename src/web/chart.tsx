import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

/** A line chart of series over time (uPlot: canvas, small and fast). `x` in epoch seconds. */
export function Chart(props: { title: string; x: number[]; series: Array<{ label: string; values: Array<number | null> }>; unit?: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const colors = ['#2f5bd3', '#d3572f', '#1b7f3b', '#8a3fd1', '#b38600', '#0f8b8d', '#c2185b', '#546e7a'];
    const plot = new uPlot(
      {
        title: props.title,
        width: Math.max(320, el.clientWidth),
        height: 220,
        series: [{}, ...props.series.map((s, i) => ({ label: s.label, stroke: colors[i % colors.length]!, width: 2, points: { show: props.x.length < 60 } }))],
        axes: [{}, { label: props.unit ?? '', size: 60 }],
      },
      [props.x, ...props.series.map((s) => s.values)],
      el,
    );
    return () => plot.destroy();
  }, [props.title, props.x, props.series]);
  return <div class="chart" ref={box} />;
}
