import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { listeningUrl } from '../helpers/processes.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/tether.js');

/** The keys of a JSON object line as written, duplicates kept (JSON.parse keeps only the last). */
function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      let end = i + 1;
      while (line[end] !== '"') end += line[end] === '\\' ? 2 : 1;
      // A key is a string at depth 1 followed by a colon.
      if (depth === 1 && line[end + 1] === ':') keys.push(JSON.parse(line.slice(i, end + 1)) as string);
      i = end;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}

describe('the daemon’s log lines (real daemon, built binary)', () => {
  const running: ChildProcess[] = [];
  const dirs: string[] = [];
  afterEach(() => {
    for (const child of running.splice(0)) child.kill('SIGKILL');
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  });

  /** Runs `tether serve`, makes one request, stops it; returns what it wrote to stderr, by line. */
  async function serveLog(env: NodeJS.ProcessEnv = {}): Promise<string[]> {
    const dir = mkdtempSync(join(tmpdir(), 'tether-logs-'));
    dirs.push(dir);
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir, TETHER_DB: join(dir, 'tether.db'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.push(child);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const url = await listeningUrl(child).catch((err: Error) => {
      throw new Error(`${err.message}:\n${stderr}`);
    });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    child.kill('SIGTERM');
    await exited;
    return stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('shutting down'));
  }

  it('writes JSON lines without duplicate keys when stderr is not a terminal; HTTP lines name their component', async () => {
    const lines = await serveLog();
    expect(lines.length).toBeGreaterThan(2);
    for (const line of lines) {
      const keys = topLevelKeys(line);
      expect(keys, line).toEqual([...new Set(keys)]);
      expect(JSON.parse(line)).toMatchObject({ name: 'tether' });
    }
    expect(lines.map((l) => JSON.parse(l) as { component?: string }).some((e) => e.component === 'http')).toBe(true);
  });

  it('writes `HH:MM:SS LEVEL component: msg key=value` lines with TETHER_LOG_FORMAT=pretty', async () => {
    const lines = await serveLog({ TETHER_LOG_FORMAT: 'pretty' });
    expect(lines.length).toBeGreaterThan(2);
    for (const line of lines) expect(line).toMatch(/^\d\d:\d\d:\d\d (INFO |WARN |ERROR|DEBUG) (tether|http): \S/);
    expect(lines).toContainEqual(expect.stringMatching(/ WARN {2}tether: no TETHER_TOKENS: authentication is off, .* host=127\.0\.0\.1$/));
    expect(lines).toContainEqual(expect.stringMatching(/ INFO {2}http: .* req="GET \/healthz"/));
  });
});
