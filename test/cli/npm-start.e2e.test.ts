import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/tether.js');

/** Alive and not a zombie (a process adopted by an init that does not reap stays one). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Every process descending from `root`, by /proc. */
function descendants(root: number): Array<{ pid: number; args: string }> {
  const procs = readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .flatMap((e) => {
      try {
        const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return [{ pid: Number(e), ppid, args: readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').join(' ') }];
      } catch {
        return [];
      }
    });
  const found: Array<{ pid: number; args: string }> = [];
  const walk = (pid: number): void => {
    for (const p of procs.filter((q) => q.ppid === pid)) {
      found.push(p);
      walk(p.pid);
    }
  };
  walk(root);
  return found;
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(process.platform !== 'linux')('npm start: the daemon ends with npm (reads /proc)', () => {
  const started: number[] = [];
  const dirs: string[] = [];
  afterEach(() => {
    for (const pid of started.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone, as it should be
      }
    }
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  });

  /** `npm start` in a project whose start script is `tether serve`; resolves once it listens. */
  async function npmStart(): Promise<{ npm: ChildProcess; daemon: number }> {
    const dir = mkdtempSync(join(tmpdir(), 'tether-npm-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true, scripts: { start: `node ${JSON.stringify(BIN)} serve` } }));
    const npm = spawn('npm', ['start'], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir, TETHER_PORT: '0', TETHER_DB: join(dir, 'tether.db'), npm_config_update_notifier: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: the test signals npm alone, as `kill <pid>` does.
      detached: true,
    });
    started.push(npm.pid!);
    npm.stderr!.resume();
    let out = '';
    await new Promise<void>((resolve, reject) => {
      npm.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('tether listening on')) resolve();
      });
      npm.once('exit', () => reject(new Error(`npm exited before the daemon listened:\n${out}`)));
    });
    const daemon = descendants(npm.pid!).find((p) => p.args.includes('tether.js serve') && !/^(\S*\/)?(sh|dash|bash) /.test(p.args));
    expect(daemon).toBeDefined();
    started.push(daemon!.pid);
    return { npm, daemon: daemon!.pid };
  }

  it.each(['SIGTERM', 'SIGKILL'] as const)('kill -%s of npm stops `tether serve`', async (signal) => {
    const { npm, daemon } = await npmStart();
    process.kill(npm.pid!, signal);
    await waitFor(() => !alive(daemon), 30_000);
  });
});
