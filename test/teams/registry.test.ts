import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, symlinkSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, settle } from '../../src/domain/clock.js';
import type { TeamsConfig } from '../../src/teams/config.js';
import { TeamsRegistry } from '../../src/teams/registry.js';
import { BIN, BUILT } from '../helpers/cli-fixture.js';
import { waitFor } from '../helpers/wait.js';

const REPO = dirname(dirname(BIN));

let dir: string;
let root: string;
let file: string;
let logs: Array<Record<string, unknown>>;
let registry: TeamsRegistry | undefined;

beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'tether-teams-registry-')));
  root = join(dir, 'projects');
  for (const d of ['web', 'api', 'docs']) mkdirSync(join(root, d), { recursive: true });
  file = join(dir, 'teams.yaml');
  logs = [];
});
afterEach(() => {
  registry?.close();
  registry = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const logger = () => pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });

/** A teams file with these local teams, each in its project directory of the same name. */
function teamsYaml(...names: string[]): string {
  return `teams:\n${names.map((name) => `  ${name}:\n    path: ${join(root, name)}\n`).join('')}`;
}

function open(options: { clock?: ManualClock } = {}): TeamsRegistry {
  registry = TeamsRegistry.open({ file, roots: [root], logger: logger(), ...options });
  return registry;
}

/** Replaces the file as editors and `tether teams add` do: a new file renamed over the old. */
function replaceByRename(text: string): void {
  writeFileSync(`${file}.new`, text);
  renameSync(`${file}.new`, file);
}

describe('TeamsRegistry', () => {
  it('loads the file: the teams, by name, in the file\'s order', () => {
    writeFileSync(file, teamsYaml('web', 'api'));
    const teams = open();
    expect(teams.file).toBe(file);
    expect(teams.names()).toEqual(['web', 'api']);
    expect(teams.team('api')).toMatchObject({ name: 'api', path: join(root, 'api'), remote: null });
    expect(teams.team('nope')).toBeUndefined();
    expect(teams.current.teams.size).toBe(2);
  });

  it('refuses to start on a missing file, naming TETHER_TEAMS, and on a bad one, listing every problem', () => {
    expect(() => open()).toThrow(expect.objectContaining({ code: 'INVALID_INPUT', message: expect.stringMatching(/teams\.yaml \(TETHER_TEAMS\) does not exist; create it with `tether teams add`/) }));
    writeFileSync(file, `teams:\n  Web: { path: ${join(root, 'web')} }\n  api: { path: api }\n`);
    const err = (() => {
      try {
        open();
      } catch (e) {
        return e as Error;
      }
      throw new Error('opened');
    })();
    expect(err.message).toMatch(/2 problems/);
    expect(err.message).toMatch(/team "Web": the name must be/);
    expect(err.message).toMatch(/team "api": path: api is not an absolute path/);
  });

  it('reloads after an edit, and tells the listeners of a change (not of a save that changed nothing)', () => {
    writeFileSync(file, teamsYaml('web'));
    const teams = open();
    const heard: TeamsConfig[] = [];
    const off = teams.onChange((config) => heard.push(config));
    writeFileSync(file, teamsYaml('web', 'api'));
    expect(teams.reload()).toEqual({ ok: true, teams: 2 });
    expect(teams.names()).toEqual(['web', 'api']);
    expect(heard.map((c) => [...c.teams.keys()])).toEqual([['web', 'api']]);
    expect(teams.reload()).toEqual({ ok: true, teams: 2 });
    expect(heard).toHaveLength(1);
    off();
    writeFileSync(file, teamsYaml('web'));
    teams.reload();
    expect(heard).toHaveLength(1);
  });

  it('keeps the last good teams through a bad edit, and logs every problem', () => {
    writeFileSync(file, teamsYaml('web', 'api'));
    const teams = open();
    let heard = 0;
    teams.onChange(() => heard++);
    writeFileSync(file, `teams:\n  web: { path: ${join(root, 'web')}, permisionMode: plan }\n  api: { path: ${join(root, 'nope')} }\n`);
    const result = teams.reload();
    expect(result).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
    expect(teams.names()).toEqual(['web', 'api']);
    expect(teams.team('api')?.path).toBe(join(root, 'api'));
    expect(heard).toBe(0);
    const warning = logs.find((l) => l.level === 40);
    expect(warning).toMatchObject({ component: 'teams', file, problems: [expect.stringMatching(/team "web": .*permisionMode/), expect.stringMatching(/team "api": path: .*nope does not exist/)] });

    writeFileSync(file, 'teams: [oops\n');
    expect(teams.reload()).toMatchObject({ ok: false, error: { message: expect.stringMatching(/is not valid YAML/) } });
    rmSync(file);
    expect(teams.reload()).toMatchObject({ ok: false, error: { message: expect.stringMatching(/cannot be read/) } });
    expect(teams.names()).toEqual(['web', 'api']);
  });

  it('refuses hostile names and paths, at start and on reload', () => {
    mkdirSync(join(dir, 'elsewhere'));
    symlinkSync(join(dir, 'elsewhere'), join(root, 'sneaky'));
    writeFileSync(join(root, 'a-file'), 'not a directory');
    writeFileSync(file, teamsYaml('web'));
    const teams = open();
    const hostile: Array<[string, string, RegExp]> = [
      ['../etc', join(root, 'api'), /the name must be/],
      ['a/b', join(root, 'api'), /the name must be/],
      ['API', join(root, 'api'), /the name must be/],
      ['x'.repeat(65), join(root, 'api'), /the name must be/],
      ['bell\u0007', join(root, 'api'), /the name must be/],
      ['relative', 'projects/api', /is not an absolute path/],
      ['missing', join(root, 'gone'), /does not exist/],
      ['sneaky', join(root, 'sneaky'), /is outside the directories this server allows/],
      ['dotdot', join(root, '..', 'elsewhere'), /is outside the directories this server allows/],
      ['afile', join(root, 'a-file'), /is not a directory/],
    ];
    for (const [name, path, problem] of hostile) {
      const text = `teams:\n  web: { path: ${join(root, 'web')} }\n  ${JSON.stringify(name)}: { path: ${JSON.stringify(path)} }\n`;
      writeFileSync(file, text);
      const result = teams.reload();
      expect(result.ok, name).toBe(false);
      expect(!result.ok && result.error.message, name).toMatch(problem);
      expect(teams.names()).toEqual(['web']);
      expect(() => TeamsRegistry.open({ file, roots: [root], logger: logger() })).toThrow(problem);
    }
  });

  it('watches: picks up an atomic rename-replace, then a plain write, and hears a bad save', async () => {
    writeFileSync(file, teamsYaml('web'));
    const teams = open();
    teams.watch();
    teams.watch();

    replaceByRename(teamsYaml('web', 'api'));
    await waitFor(() => teams.names().includes('api'), 10_000);

    // After the rename the file is a new inode: a watch on the old one would hear nothing now.
    writeFileSync(file, teamsYaml('web', 'api', 'docs'));
    await waitFor(() => teams.names().includes('docs'), 10_000);

    // A bad save is heard, and refused.
    writeFileSync(file, 'teams: [oops\n');
    await waitFor(() => logs.some((l) => l.level === 40), 10_000);
    expect(teams.names()).toEqual(['web', 'api', 'docs']);

  });

  it('stops watching when closed, dropping a reload already scheduled', async () => {
    writeFileSync(file, teamsYaml('web'));
    const clock = new ManualClock();
    const teams = open({ clock });
    teams.watch();
    writeFileSync(file, teamsYaml('web', 'api'));
    await waitFor(() => clock.pendingTimers > 0, 10_000);
    teams.close();
    teams.close();
    expect(clock.pendingTimers).toBe(0);

    writeFileSync(file, teamsYaml('web', 'docs'));
    await eventsDelivered();
    expect(clock.pendingTimers).toBe(0);
    clock.advance(1_000);
    expect(teams.names()).toEqual(['web']);
  });

  it('debounces a burst of events into one reload, on the injected clock', async () => {
    writeFileSync(file, teamsYaml('web'));
    const clock = new ManualClock();
    const teams = open({ clock });
    let reloads = 0;
    teams.onChange(() => reloads++);
    teams.watch();
    writeFileSync(file, teamsYaml('web', 'api'));
    replaceByRename(teamsYaml('web', 'api', 'docs'));
    await waitFor(() => clock.pendingTimers > 0, 10_000);
    // Let the rest of the burst's events arrive; each one restarts the wait.
    await settle();
    expect(clock.pendingTimers).toBe(1);
    expect(teams.names()).toEqual(['web']);
    clock.advance(99);
    expect(teams.names()).toEqual(['web']);
    clock.advance(1);
    expect(teams.names()).toEqual(['web', 'api', 'docs']);
    expect(reloads).toBe(1);
    teams.close();
  });

  it('ignores the other files of its directory (temporary files of a write among them)', async () => {
    writeFileSync(file, teamsYaml('web'));
    const clock = new ManualClock();
    const teams = open({ clock });
    teams.watch();
    for (const other of ['other.yaml', 'teams.yaml.bak', '.teams.yaml.123.abc.tmp', 'teams.yaml.lock']) writeFileSync(join(dir, other), teamsYaml('web', 'api'));
    await eventsDelivered();
    expect(clock.pendingTimers).toBe(0);
    writeFileSync(file, teamsYaml('web', 'docs'));
    await waitFor(() => clock.pendingTimers > 0, 10_000);
    clock.advance(100);
    expect(teams.names()).toEqual(['web', 'docs']);
  });

  it('follows a symlinked file whose link is swapped beside it (a Kubernetes ConfigMap volume)', async () => {
    // The kubelet's layout: teams.yaml -> ..data/teams.yaml, ..data -> ..v1; an update writes ..v2
    // and renames a new ..data link over the old: no event ever names teams.yaml.
    for (const [version, names] of [['..v1', ['web']], ['..v2', ['web', 'api']]] as const) {
      mkdirSync(join(dir, version));
      writeFileSync(join(dir, version, 'teams.yaml'), teamsYaml(...names));
    }
    symlinkSync('..v1', join(dir, '..data'));
    symlinkSync('..data/teams.yaml', file);
    const clock = new ManualClock();
    const teams = open({ clock });
    teams.watch();
    symlinkSync('..v2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    await waitFor(() => clock.pendingTimers > 0, 10_000);
    clock.advance(100);
    expect(teams.names()).toEqual(['web', 'api']);
  });

  it.runIf(BUILT)('never keeps a process alive by watching (nor by a reload it has scheduled)', () => {
    writeFileSync(file, teamsYaml('web'));
    const script = [
      `import { pino } from 'pino';`,
      `import { writeFileSync } from 'node:fs';`,
      `import { TeamsRegistry } from ${JSON.stringify(pathToFileURL(join(REPO, 'dist', 'teams', 'registry.js')).href)};`,
      `const teams = TeamsRegistry.open({ file: ${JSON.stringify(file)}, roots: [${JSON.stringify(root)}], logger: pino({ level: 'silent' }) });`,
      `teams.watch();`,
      `writeFileSync(${JSON.stringify(file)}, ${JSON.stringify(teamsYaml('web', 'api'))});`,
      `console.log(teams.names().join(','));`,
    ].join('\n');
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8', timeout: 20_000 });
    expect(child.stderr).toBe('');
    expect(child).toMatchObject({ status: 0, signal: null, stdout: 'web\n' });
  });
});

/**
 * Resolves once every event of the directory so far has been delivered: a watch of its own sees a
 * marker file written last, and a directory's events reach every watch of it in order.
 */
async function eventsDelivered(): Promise<void> {
  const marker = `marker-${Math.random().toString(36).slice(2)}`;
  let seen = false;
  const probe = watch(dir, (_event, name) => {
    if (name === marker) seen = true;
  });
  try {
    writeFileSync(join(dir, marker), '');
    await waitFor(() => seen, 10_000);
    await settle();
  } finally {
    probe.close();
  }
}
