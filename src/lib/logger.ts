import { pino, type DestinationStream, type Logger } from 'pino';

export type LogFormat = 'auto' | 'json' | 'pretty';

/** Where log lines go: stderr by default; `isTTY` decides the `auto` format. */
export interface LogSink {
  write(line: string): unknown;
  isTTY?: boolean;
}

export interface LoggerSettings {
  level: string;
  format: LogFormat;
  sink?: LogSink;
  /** Paths whose values are printed as `[redacted]`. */
  redact?: string[];
}

/**
 * Tether's root logger, named `tether`; parts of it log through children carrying a
 * `component` (pino's `name` is a root binding a child would only repeat, as a second key).
 * JSON lines for machines; on a terminal (`auto`) or when asked, `prettyLines`.
 */
export function createLogger(settings: LoggerSettings): Logger {
  const sink = settings.sink ?? process.stderr;
  const tty = sink.isTTY === true;
  const pretty = settings.format === 'pretty' || (settings.format === 'auto' && tty);
  const destination: DestinationStream = pretty
    ? prettyLines(sink, { colors: tty })
    : sink === process.stderr
      ? pino.destination(2)
      : { write: (line: string) => void sink.write(line) };
  const redact = settings.redact ? { redact: { paths: settings.redact, censor: '[redacted]' } } : {};
  return pino({ level: settings.level, name: 'tether', ...redact }, destination);
}

const LEVELS: Record<number, [string, string]> = {
  10: ['TRACE', '\x1b[90m'],
  20: ['DEBUG', '\x1b[36m'],
  30: ['INFO', '\x1b[32m'],
  40: ['WARN', '\x1b[33m'],
  50: ['ERROR', '\x1b[31m'],
  60: ['FATAL', '\x1b[41m'],
};
/** Said by the line's layout (time, level, component, message), or noise on a terminal. */
const LAYOUT_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'component', 'msg']);

/**
 * A pino destination writing `HH:MM:SS LEVEL component: msg key=value` lines (the stack of an
 * error at ERROR and above on the lines after): readable without pino-pretty, which would be
 * a dependency for a terminal nicety. A line that is not pino's JSON passes through unchanged.
 */
export function prettyLines(sink: LogSink, options: { colors?: boolean } = {}): DestinationStream {
  return {
    write(line: string) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        sink.write(line);
        return;
      }
      sink.write(formatEntry(entry, options.colors ?? false) + '\n');
    },
  };
}

export function formatEntry(entry: Record<string, unknown>, colors = false): string {
  const level = typeof entry.level === 'number' ? entry.level : 30;
  const [label, colour] = LEVELS[level] ?? [`L${level}`, ''];
  const shownLevel = colors && colour ? `${colour}${label.padEnd(5)}\x1b[0m` : label.padEnd(5);
  const time = typeof entry.time === 'number' ? clockTime(entry.time) : '--:--:--';
  const who = String(entry.component ?? entry.name ?? 'tether');
  let out = `${time} ${shownLevel} ${who}: ${String(entry.msg ?? '')}`;
  let stack: string | null = null;
  for (const [key, value] of Object.entries(entry)) {
    if (LAYOUT_KEYS.has(key) || value === undefined) continue;
    if (key === 'err' && isError(value)) {
      out += ` err=${quoted(value.message)}`;
      if (level >= 50 && typeof value.stack === 'string') stack = value.stack;
      continue;
    }
    out += ` ${key}=${shown(value)}`;
  }
  return stack ? `${out}\n    ${stack.split('\n').join('\n    ')}` : out;
}

function clockTime(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

function isError(value: unknown): value is { message: string; stack?: unknown } {
  return typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string';
}

/** Fastify's request and response serializers, shortened: `GET /v1/sessions`, `200`. */
function shown(value: unknown): string {
  if (typeof value === 'object' && value !== null) {
    const v = value as Record<string, unknown>;
    if (typeof v.method === 'string' && typeof v.url === 'string') return quoted(`${v.method} ${v.url}`);
    if (typeof v.statusCode === 'number' && Object.keys(v).length === 1) return String(v.statusCode);
    return JSON.stringify(value);
  }
  return typeof value === 'string' ? quoted(value) : String(value);
}

/** Bare when unambiguous, JSON-quoted when it has spaces, quotes, `=` or nothing at all. */
function quoted(s: string): string {
  return s !== '' && !/[\s"=]/.test(s) ? s : JSON.stringify(s);
}
