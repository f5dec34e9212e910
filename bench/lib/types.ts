import type { Summary } from './stats.js';

/** How a row's goal is judged: on the ratio, or on the Tether figure itself (absolute goals). */
export interface Goal {
  /** `none`: a figure reported for information, judged by nothing. */
  on: 'ratio' | 'tether' | 'none';
  op: '<=' | '<' | '>=' | '>' | '==';
  target: number;
  /** The goal as the issue words it. */
  text: string;
}

/** A figure with its unit, e.g. a median latency or a throughput. */
export interface Figure {
  value: number;
  unit: string;
  /** Extra detail shown next to the value in the table (p90, n…). */
  detail?: string;
}

/** A latency figure: the median in milliseconds, with its p90 beside it. */
export function latencyFigure(summary: Summary): Figure {
  return { value: summary.median, unit: 'ms', detail: `p90 ${summary.p90}` };
}

/** One line of the results table. */
export interface ResultRow {
  label: string;
  tether: Figure;
  baseline: Figure | null;
  /** What the ratio divides, e.g. "Tether / raw SDK (medians)". */
  ratioDefinition: string;
  ratio: number | null;
  goal: Goal;
  /** null when the row has no goal. */
  met: boolean | null;
}

export interface BenchResult {
  name: string;
  title: string;
  /** ISO time the benchmark started. */
  startedAt: string;
  durationSec: number;
  rows: ResultRow[];
  /** Summaries of every series measured (medians, p90…). */
  summaries: Record<string, Summary>;
  /** Every raw measurement, by series. */
  raw: Record<string, unknown>;
  /** What was checked on the way (runner kinds, correctness counts…). */
  checks: Record<string, unknown>;
  notes: string[];
}

export interface BenchContext {
  log(message: string): void;
  /** A scratch directory for this run, removed at the end. */
  tmp: string;
}

export interface Benchmark {
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<Omit<BenchResult, 'name' | 'title' | 'startedAt' | 'durationSec'>>;
}

export function judge(goal: Goal, tether: number, ratio: number | null): boolean | null {
  if (goal.on === 'none') return null;
  const value = goal.on === 'ratio' ? ratio : tether;
  if (value === null || !Number.isFinite(value)) return false;
  switch (goal.op) {
    case '<=':
      return value <= goal.target;
    case '<':
      return value < goal.target;
    case '>=':
      return value >= goal.target;
    case '>':
      return value > goal.target;
    case '==':
      return value === goal.target;
  }
}

/** Builds a row and judges it. */
export function row(input: Omit<ResultRow, 'met'>): ResultRow {
  return { ...input, met: judge(input.goal, input.tether.value, input.ratio) };
}
