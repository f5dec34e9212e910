import { exitCodeOf, toTetherError } from '../errors.js';
import type { SessionRecord } from '../domain/types.js';

/** Where the CLI writes: process streams by default, string sinks in tests. */
export interface Writer {
  write(s: string): void;
}

/** A source of process signals; `process` by default, an EventEmitter in tests. */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: () => void): unknown;
  off(signal: NodeJS.Signals, listener: () => void): unknown;
}

export interface CliIO {
  stdout: Writer;
  stderr: Writer;
  env: NodeJS.ProcessEnv;
  /** Read when a prompt or a bundle file is `-`; process.stdin by default. */
  stdin?: AsyncIterable<string | Buffer>;
  /**
   * Asks the person at the terminal and resolves with the line typed (aborted: rejects). Present
   * only when there is one (stdin and stderr are a TTY): `send` then asks about approvals inline.
   */
  ask?: (question: string, signal: AbortSignal) => Promise<string>;
  /** SIGINT / SIGTERM during `send`, `mock-api`; process by default. */
  signals?: SignalSource;
}

/** All of stdin (or the test's stream) as text: `echo hi | tether send k -`, `tether export k | tether import -`. */
export async function readStdin(io: CliIO): Promise<string> {
  const chunks: string[] = [];
  for await (const chunk of io.stdin ?? process.stdin) chunks.push(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
  return chunks.join('');
}

export const EXIT_OK = 0;
export const EXIT_USAGE = 2;
/** 128 + SIGINT, what shells report for a command stopped by Ctrl-C. */
export const EXIT_SIGINT = 130;
export const EXIT_SIGTERM = 143;

export function printJSON(out: Writer, value: unknown): void {
  out.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One value per line (NDJSON): the line is the unit a reader may act on as it arrives. */
export function printLine(out: Writer, value: unknown): void {
  out.write(`${JSON.stringify(value)}\n`);
}

/** `error: <CODE>: <message>` on stderr; returns the exit code the error maps to. */
export function printError(io: CliIO, err: unknown): number {
  const e = toTetherError(err);
  io.stderr.write(`error: ${e.code}: ${oneLine(e.message)}\n`);
  // Anything that is not a TetherError became INTERNAL above, which exits 1.
  return exitCodeOf(e.code);
}

export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/** Left-aligned columns, two spaces apart; the last column is not padded. */
export function columns(rows: string[][]): string {
  const width = (cell: string): number => [...cell].length;
  const count = Math.max(0, ...rows.map((r) => r.length));
  const widths = Array.from({ length: count }, (_, i) => Math.max(0, ...rows.map((r) => width(r[i] ?? ''))));
  return rows
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - width(cell))))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function table(header: string[], rows: string[][]): string {
  return columns([header, ...rows]);
}

export function percent(ratio: number, window: number): string {
  if (window <= 0) return '-';
  return `${Math.round(ratio * 100)}%`;
}

/** `12s ago`, `5m ago`, `3h ago`, `2d ago`: enough to tell warm from stale at a glance. */
export function ago(ms: number, now: number = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ago`;
  return `${Math.floor(h / 24)}d ago`;
}

export function duration(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

export function truncate(s: string, max: number): string {
  const chars = [...oneLine(s)];
  return chars.length <= max ? chars.join('') : `${chars.slice(0, max - 1).join('')}…`;
}

export function sessionTable(sessions: SessionRecord[], now: number = Date.now()): string {
  const rows = sessions.map((s) => [
    s.key,
    s.status,
    String(s.generation),
    String(s.turns),
    percent(s.context.ratio, s.context.window),
    ago(s.lastActiveAt, now),
  ]);
  return table(['KEY', 'STATUS', 'GEN', 'TURNS', 'CONTEXT', 'LAST ACTIVE'], rows);
}

/** `name: value` lines with the values aligned. */
export function keyValues(pairs: Array<[string, string]>): string {
  const width = Math.max(...pairs.map(([k]) => k.length)) + 1;
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width + 1)}${v}`).join('\n');
}

const iso = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString());

export function sessionLines(s: SessionRecord): string {
  const u = s.usage;
  const labels = Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(', ');
  // Strings as they are (taskId=T-1), anything else as JSON.
  const metadata = Object.entries(s.metadata).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ');
  const pairs: Array<[string, string]> = [
    ['key', s.key],
    ['tenant', s.tenant],
    ['id', s.id],
    ['status', s.status],
    ['generation', String(s.generation)],
    ['backend', s.backend],
    ['agent session', s.agentSessionId ?? '-'],
    ['model', s.config.model ?? '(default)'],
    ['cwd', s.config.cwd],
    ['permission mode', s.config.permissionMode ?? '(default)'],
    ['turns', String(s.turns)],
    ['queued', String(s.queued)],
    ['usage', `in ${u.inputTokens} · out ${u.outputTokens} · cache read ${u.cacheReadTokens} · cache write ${u.cacheWriteTokens} · $${u.costUsd.toFixed(4)}`],
    ['context', `${s.context.tokens} / ${s.context.window || '?'} tokens (${percent(s.context.ratio, s.context.window)})`],
    ['labels', labels || '-'],
    ['metadata', metadata || '-'],
    ['created', iso(s.createdAt)],
    ['last active', iso(s.lastActiveAt)],
    ['expires', s.expiresAt === null ? 'never' : iso(s.expiresAt)],
  ];
  if (s.closedAt !== null) pairs.push(['closed', `${iso(s.closedAt)} (${s.closeReason ?? 'closed'})`]);
  return keyValues(pairs);
}

/** What every command registration gets from main: the streams and where to put its exit code. */
export interface CliContext {
  readonly io: CliIO;
  /** Set by a command's action; main returns it. */
  exitCode: number;
}
