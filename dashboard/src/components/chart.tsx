/**
 * A small time-series chart (uPlot: ~50 kB, canvas, no inline styles or scripts, so it works
 * under the page's strict CSP). One x axis of days; one or two series, each with its own y axis.
 */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  values: number[];
  /** CSS colour. */
  stroke: string;
  format?: (v: number) => string;
  /** Axis tick labels (short); default: the plain number. */
  axis?: (v: number) => string;
}

export function DayChart({ title, days, series }: { title: string; days: string[]; series: Series[] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => s.label).join('|');

  // Build once per shape; new data only updates it (no flicker on auto-refresh).
  useEffect(() => {
    const el = box.current!;
    const width = () => Math.max(260, el.clientWidth);
    const opts: uPlot.Options = {
      width: width(),
      height: 220,
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.stroke,
          width: 2,
          scale: i === 0 ? 'y' : 'y2',
          value: (_u: uPlot, v: number | null) => (v == null ? '—' : (s.format ?? String)(v)),
        })),
      ],
      axes: [
        {},
        { scale: 'y', values: (_u, vals) => vals.map((v) => (series[0]?.axis ?? String)(v)) },
        ...(series.length > 1
          ? [
              {
                scale: 'y2',
                side: 1,
                grid: { show: false },
                values: (_u: uPlot, vals: number[]) => vals.map((v) => (series[1]?.axis ?? String)(v)),
              },
            ]
          : []),
      ],
      // Both axes start at zero; an empty series still gets a visible range.
      scales: {
        x: { time: true },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
        y2: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
    };
    plot.current = new uPlot(opts, toData(days, series), el);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: width(), height: 220 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape]);

  useEffect(() => {
    plot.current?.setData(toData(days, series));
  }, [days.join(), series.map((s) => s.values.join()).join('|')]);

  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} />
    </figure>
  );
}

function toData(days: string[], series: Series[]): uPlot.AlignedData {
  const xs = days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
  return [xs, ...series.map((s) => s.values)];
}
