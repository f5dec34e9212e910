import { describe, expect, it } from 'vitest';
import { createLogger, formatEntry } from '../../src/lib/logger.js';

/** A sink that keeps what it is given, as a terminal or a pipe would. */
function sink(isTTY: boolean): { write(s: string): void; isTTY: boolean; text: string } {
  return {
    isTTY,
    text: '',
    write(s: string) {
      this.text += s;
    },
  };
}

const at = new Date(2026, 0, 2, 3, 4, 5).getTime();

describe('logger', () => {
  it('formats `HH:MM:SS LEVEL component: msg key=value`, quoting only what needs it', () => {
    const line = formatEntry({ level: 40, time: at, pid: 1, hostname: 'h', name: 'tether', component: 'http', msg: 'slow', key: 'a:b', text: 'two words', n: 3, ok: false, obj: { a: 1 } });
    expect(line).toBe('03:04:05 WARN  http: slow key=a:b text="two words" n=3 ok=false obj={"a":1}');
    expect(formatEntry({ level: 30, time: at, name: 'tether', msg: 'x', req: { method: 'GET', url: '/healthz', host: 'h' }, res: { statusCode: 200 } })).toBe(
      '03:04:05 INFO  tether: x req="GET /healthz" res=200',
    );
  });

  it('shows an error by its message, and its stack under ERROR and above', () => {
    const err = { type: 'Error', message: 'boom now', stack: 'Error: boom now\n    at here' };
    expect(formatEntry({ level: 40, time: at, name: 'tether', msg: 'failed', err })).toBe('03:04:05 WARN  tether: failed err="boom now"');
    expect(formatEntry({ level: 50, time: at, name: 'tether', msg: 'failed', err }).split('\n')).toEqual([
      '03:04:05 ERROR tether: failed err="boom now"',
      '    Error: boom now',
      '        at here',
    ]);
  });

  it('is readable on a terminal (auto), JSON elsewhere, and as asked when forced', () => {
    const tty = sink(true);
    createLogger({ level: 'info', format: 'auto', sink: tty }).child({ component: 'http' }).info({ port: 1 }, 'up');
    // The level in green (ANSI), the rest plain.
    expect(tty.text.slice(8)).toBe(' \u001b[32mINFO \u001b[0m http: up port=1\n');

    const pipe = sink(false);
    createLogger({ level: 'info', format: 'auto', sink: pipe }).child({ component: 'http' }).info({ port: 1 }, 'up');
    expect(JSON.parse(pipe.text)).toMatchObject({ name: 'tether', component: 'http', port: 1, msg: 'up' });

    const forced = sink(false);
    createLogger({ level: 'info', format: 'pretty', sink: forced }).info('plain');
    expect(forced.text).toMatch(/^\d\d:\d\d:\d\d INFO {2}tether: plain\n$/);

    const json = sink(true);
    createLogger({ level: 'info', format: 'json', sink: json, redact: ['token'] }).info({ token: 'secret' }, 'x');
    expect(JSON.parse(json.text)).toMatchObject({ token: '[redacted]', msg: 'x' });
  });
});
