import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { BenchResult, Figure, ResultRow } from './types.js';

export interface ResultsFile {
  generatedAt: string;
  machine: { node: string; cpus: number; cpuModel: string; memGiB: number; platform: string };
  /** In suite order; a run of some benchmarks keeps the others' last results. */
  benchmarks: BenchResult[];
}

function machine(): ResultsFile['machine'] {
  const list = cpus();
  return { node: process.version, cpus: list.length, cpuModel: list[0]?.model ?? 'unknown', memGiB: Math.round(totalmem() / 2 ** 30), platform: `${process.platform}-${process.arch}` };
}

/** Merges `fresh` into results.json (by name, in `order`) and rewrites results.md from it. */
export function writeResults(dir: string, fresh: BenchResult[], order: string[]): ResultsFile {
  mkdirSync(dir, { recursive: true });
  const jsonPath = join(dir, 'results.json');
  let previous: BenchResult[] = [];
  if (existsSync(jsonPath)) {
    try {
      previous = (JSON.parse(readFileSync(jsonPath, 'utf8')) as ResultsFile).benchmarks ?? [];
    } catch {
      previous = [];
    }
  }
  const byName = new Map(previous.map((b) => [b.name, b]));
  for (const b of fresh) byName.set(b.name, b);
  const benchmarks = order.flatMap((name) => byName.get(name) ?? []);
  const file: ResultsFile = { generatedAt: new Date().toISOString(), machine: machine(), benchmarks };
  writeAtomic(jsonPath, `${JSON.stringify(file, null, 2)}\n`);
  writeAtomic(join(dir, 'results.md'), markdown(file, new Set(fresh.map((b) => b.name))));
  return file;
}

function writeAtomic(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

export function fmt(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(abs >= 1 || value === 0 ? 2 : 3);
}

function figure(f: Figure | null): string {
  if (!f) return '—';
  return `${fmt(f.value)} ${f.unit}${f.detail ? ` (${f.detail})` : ''}`;
}

export function tableRow(r: ResultRow): string {
  const ratio = r.ratio === null ? '—' : `${fmt(r.ratio)}× <sub>${r.ratioDefinition}</sub>`;
  return `| ${r.label} | ${figure(r.tether)} | ${figure(r.baseline)} | ${ratio} | ${r.goal.text} | ${r.met === null ? '—' : r.met ? '✅ yes' : '❌ no'} |`;
}

export function markdown(file: ResultsFile, freshNames: Set<string>): string {
  const m = file.machine;
  const lines = [
    '# Tether benchmarks',
    '',
    `Generated ${file.generatedAt} on ${m.cpus} × ${m.cpuModel}, ${m.memGiB} GiB, Node ${m.node} (${m.platform}).`,
    'Every ratio compares two sides measured in the same run, interleaved; figures are medians unless marked. See bench/README.md.',
    '',
    '| benchmark | Tether | baseline | ratio | goal | met |',
    '|---|---|---|---|---|---|',
  ];
  for (const b of file.benchmarks) for (const r of b.rows) lines.push(tableRow(r));
  lines.push('');
  for (const b of file.benchmarks) {
    lines.push(`## ${b.name}: ${b.title}`, '');
    lines.push(`Run ${b.startedAt}${freshNames.has(b.name) ? '' : ' (an earlier run)'}, ${b.durationSec.toFixed(1)} s.`, '');
    const series = Object.entries(b.summaries);
    if (series.length > 0) {
      lines.push('| series | n | median | p90 | p99 | min | max |', '|---|---|---|---|---|---|---|');
      for (const [name, s] of series) lines.push(`| ${name} | ${s.n} | ${fmt(s.median)} | ${fmt(s.p90)} | ${fmt(s.p99)} | ${fmt(s.min)} | ${fmt(s.max)} |`);
      lines.push('');
    }
    const checks = Object.entries(b.checks).filter(([, v]) => v !== null && typeof v !== 'object');
    if (checks.length > 0) lines.push(`Checks: ${checks.map(([k, v]) => `${k} = ${String(v)}`).join(', ')}.`, '');
    for (const [k, v] of Object.entries(b.checks)) {
      if (v !== null && typeof v === 'object') lines.push(`${k}: \`${JSON.stringify(v)}\``, '');
    }
    for (const note of b.notes) lines.push(`- ${note}`);
    if (b.notes.length > 0) lines.push('');
  }
  return `${lines.join('\n')}\n`;
}
