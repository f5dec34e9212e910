import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api } from './api.js';
import { Chart } from './chart.js';
import { useEvents } from './events.js';

interface Bucket {
  at: string;
  group: string;
  turns: number;
  failed: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number;
  latencyMs: { p50: number; p90: number; p99: number };
}

interface Series {
  since: string;
  until: string;
  bucketMs: number;
  groups: string[];
  buckets: Bucket[];
  truncated: boolean;
}

interface Stats {
  runners: { live: number; busy: number; maxLive: number; waiting: number };
  runningHere: number;
}

const WINDOWS = {
  hour: { bucket: 'minute', label: 'last hour, by minute', span: 3_600_000 },
  day: { bucket: 'hour', label: 'last 24 hours, by hour', span: 86_400_000 },
  month: { bucket: 'day', label: 'last 30 days, by day', span: 30 * 86_400_000 },
} as const;

/** Every bucket of the window (empty ones too, as 0), so lines do not jump over quiet hours. */
function axis(series: Series): number[] {
  const out: number[] = [];
  for (let t = Date.parse(series.since); t < Date.parse(series.until); t += series.bucketMs) out.push(t / 1000);
  return out;
}

function lines(series: Series, x: number[], value: (b: Bucket) => number): Array<{ label: string; values: number[] }> {
  return series.groups.map((group) => {
    const at = new Map(series.buckets.filter((b) => b.group === group).map((b) => [Date.parse(b.at) / 1000, value(b)]));
    return { label: group, values: x.map((t) => at.get(t) ?? 0) };
  });
}

/** Usage over time from `/v1/usage`, and this node's runners and queue as they go (from `/v1/stats`). */
export function ChartsPage(props: { onError: (err: unknown) => void }) {
  const [window, setWindow] = useState<keyof typeof WINDOWS>('day');
  const [by, setBy] = useState('none');
  const [series, setSeries] = useState<Series | null>(null);
  const [version, setVersion] = useState(0);
  useEvents((type) => {
    if (type === 'turn.completed' || type === 'turn.failed') setVersion((v) => v + 1);
  });
  useEffect(() => {
    const w = WINDOWS[window];
    // Whole buckets (minutes, hours, days of UTC), the current one included.
    const size = w.bucket === 'minute' ? 60_000 : w.bucket === 'hour' ? 3_600_000 : 86_400_000;
    const until = Math.ceil((Date.now() + 1) / size) * size;
    const query = new URLSearchParams({ bucket: w.bucket, by, since: new Date(until - w.span).toISOString(), until: new Date(until).toISOString() });
    api<Series>(`/usage?${query}`).then(setSeries).catch(props.onError);
  }, [window, by, version]);

  const x = useMemo(() => (series ? axis(series) : []), [series]);
  const tokens = useMemo(() => (series ? lines(series, x, (b) => b.inputTokens + b.outputTokens + b.cacheReadTokens + b.cacheWriteTokens) : []), [series, x]);
  const cost = useMemo(() => (series ? lines(series, x, (b) => b.costUsd) : []), [series, x]);
  const latency = useMemo(() => {
    if (!series) return [];
    // Over every group: the busiest bucket's percentiles stand for the bucket when grouped.
    const top = new Map<number, Bucket>();
    for (const b of series.buckets) {
      const t = Date.parse(b.at) / 1000;
      if ((top.get(t)?.turns ?? -1) < b.turns) top.set(t, b);
    }
    return (['p50', 'p90', 'p99'] as const).map((p) => ({ label: p, values: x.map((t) => top.get(t)?.latencyMs[p] ?? null) }));
  }, [series, x]);

  return (
    <section>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <select name="window" value={window} onChange={(e) => setWindow(e.currentTarget.value as keyof typeof WINDOWS)}>
          {Object.entries(WINDOWS).map(([k, w]) => (
            <option value={k}>{w.label}</option>
          ))}
        </select>
        <select name="by" value={by.startsWith('label:') ? 'label' : by} onChange={(e) => setBy(e.currentTarget.value === 'label' ? 'label:user' : e.currentTarget.value)}>
          <option value="none">all together</option>
          <option value="model">by model</option>
          <option value="backend">by agent</option>
          <option value="label">by label…</option>
        </select>
        {by.startsWith('label:') && <input name="label" value={by.slice(6)} onChange={(e) => setBy(`label:${e.currentTarget.value || 'user'}`)} />}
      </form>
      {series?.truncated && <p class="muted">More than 50,000 turns in this window: the latest are counted.</p>}
      {series && series.buckets.length === 0 && <p class="muted">No turns ended in this window.</p>}
      {series && series.buckets.length > 0 && (
        <>
          <Chart title="Tokens" x={x} series={tokens} unit="tokens" />
          <Chart title="Cost" x={x} series={cost} unit="USD" />
          <Chart title="Turn latency (accepted → ended)" x={x} series={latency} unit="ms" />
        </>
      )}
      <LiveRunners onError={props.onError} />
    </section>
  );
}

/** This node's agent processes against its cap, and turns waiting, sampled every 5 s while open. */
function LiveRunners(props: { onError: (err: unknown) => void }) {
  const [samples, setSamples] = useState<Array<{ t: number; live: number; cap: number; waiting: number; running: number }>>([]);
  const failed = useRef(false);
  useEffect(() => {
    const sample = (): void => {
      api<Stats>('/stats')
        .then((s) => setSamples((list) => [...list.slice(-359), { t: Date.now() / 1000, live: s.runners.live, cap: s.runners.maxLive, waiting: s.runners.waiting, running: s.runningHere }]))
        .catch((err: unknown) => {
          if (!failed.current) props.onError(err);
          failed.current = true;
        });
    };
    sample();
    const timer = setInterval(sample, 5_000);
    return () => clearInterval(timer);
  }, []);
  const x = samples.map((s) => s.t);
  const series = useMemo(
    () => [
      { label: 'agent processes', values: samples.map((s) => s.live) },
      { label: 'cap', values: samples.map((s) => s.cap) },
      { label: 'turns running or queued here', values: samples.map((s) => s.running) },
      { label: 'waiting for a process', values: samples.map((s) => s.waiting) },
    ],
    [samples],
  );
  if (samples.length < 2) return <p class="muted">Sampling this node's processes and queue…</p>;
  return <Chart title="This node, live (every 5 s)" x={x} series={series} />;
}
