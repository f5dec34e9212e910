import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, BUILT } from '../helpers/cli-fixture.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const TOKEN = 'tok-0123456789abcdef';

/** `tether teams …` of the built CLI, run in its own process (each start takes a second or two on a busy machine). */
describe.runIf(BUILT)('tether teams (built CLI)', { timeout: 120_000 }, () => {
  let dir: string;
  let root: string;
  let file: string;
  let env: NodeJS.ProcessEnv;

  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'tether-cli-teams-')));
    root = join(dir, 'projects');
    for (const d of ['web', 'api']) mkdirSync(join(root, d), { recursive: true });
    file = join(dir, 'etc', 'teams.yaml');
    env = { PATH: process.env.PATH, HOME: dir, TETHER_ALLOWED_ROOTS: root, TETHER_LOG_LEVEL: 'silent' };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function tether(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], { cwd: root, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('adds, lists (never a token), and removes teams; TETHER_TEAMS names the file', async () => {
    expect(await tether(['teams', 'add', 'web', '--path', 'web', '--description', 'The web app', '--permission-mode', 'acceptEdits', '--file', file])).toMatchObject({ code: 0, stdout: `added team "web" in ${file}\n` });
    const teamsEnv = { TETHER_TEAMS: file };
    expect(await tether(['teams', 'add', 'billing', '--remote', 'https://billing.example.com:7420', '--token', TOKEN, '--backend', 'codex'], teamsEnv)).toMatchObject({ code: 0 });
    expect(readFileSync(file, 'utf8')).toContain(`path: ${join(root, 'web')}`);

    const ls = await tether(['teams', 'ls'], teamsEnv);
    expect(ls.code).toBe(0);
    expect(ls.stdout.trimEnd().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^web\\s+${join(root, 'web')}\\s+The web app$`)),
      expect.stringMatching(/^billing\s+https:\/\/billing\.example\.com:7420$/),
    ]);
    expect(ls.stdout).not.toContain(TOKEN);

    const json = await tether(['teams', 'ls', '--json', '--file', file]);
    expect(json.stdout).not.toContain(TOKEN);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ name: 'web', path: join(root, 'web'), description: 'The web app', permissionMode: 'acceptEdits', remote: null }),
      expect.objectContaining({ name: 'billing', path: null, backend: 'codex', remote: { url: 'https://billing.example.com:7420', token: '***' } }),
    ]);

    expect(await tether(['teams', 'rm', 'web'], teamsEnv)).toMatchObject({ code: 0, stdout: `removed team "web" from ${file}\n` });
    expect(JSON.parse((await tether(['teams', 'ls', '--json'], teamsEnv)).stdout).map((t: { name: string }) => t.name)).toEqual(['billing']);
    expect(await tether(['teams', 'rm', 'billing'], teamsEnv)).toMatchObject({ code: 0 });
    expect(await tether(['teams', 'ls'], teamsEnv)).toMatchObject({ code: 0, stdout: `no teams in ${file}\n` });
  });

  it('refuses bad input with exit code 2 and a message naming what is wrong; a missing team or file is 4', async () => {
    // Independent of each other (none creates the file): run at once, each CLI start costs a second.
    const [bad, outside, emptyModel, badMode, neither, noToken, shortToken, noFile] = await Promise.all([
      tether(['teams', 'add', 'Web', '--path', 'web', '--file', file]),
      tether(['teams', 'add', 'etc', '--path', '/etc', '--file', file]),
      tether(['teams', 'add', 'web', '--path', 'web', '--model', '', '--file', file]),
      tether(['teams', 'add', 'web', '--path', 'web', '--permission-mode', 'yolo', '--file', file]),
      tether(['teams', 'add', 'web', '--file', file]),
      tether(['teams', 'add', 'billing', '--remote', 'https://billing.example.com', '--file', file]),
      tether(['teams', 'add', 'billing', '--remote', 'https://billing.example.com', '--token', 'short', '--file', file]),
      tether(['teams', 'ls']),
    ]);
    expect(bad).toMatchObject({ code: 2, stdout: '' });
    expect(bad.stderr).toMatch(/^error: INVALID_INPUT: .*team "Web": the name must be 1-64 of a-z/);
    expect(outside).toMatchObject({ code: 2, stderr: expect.stringMatching(/team "etc": path: \/etc is outside the directories this server allows \(TETHER_ALLOWED_ROOTS\)/) });
    expect(emptyModel).toMatchObject({ code: 2, stderr: expect.stringMatching(/team "web": model: /) });
    expect(badMode).toMatchObject({ code: 2, stderr: expect.stringMatching(/--permission-mode/) });
    expect(neither).toMatchObject({ code: 2, stderr: expect.stringMatching(/give --path DIR .* or --remote URL with --token/) });
    expect(noToken).toMatchObject({ code: 2, stderr: expect.stringMatching(/--remote needs --token/) });
    expect(shortToken).toMatchObject({ code: 2, stderr: expect.stringMatching(/remote\.token: must be at least 16 characters/) });
    expect(shortToken.stderr).not.toContain('short');
    expect(noFile).toMatchObject({ code: 2, stderr: expect.stringMatching(/no teams file: give --file PATH or set TETHER_TEAMS/) });
    // Nothing above created the file, nor its directory.
    expect(readdirSync(dir).sort()).toEqual(['projects']);

    expect(await tether(['teams', 'ls', '--file', file])).toMatchObject({ code: 4, stderr: expect.stringMatching(/does not exist/) });
    expect(await tether(['teams', 'rm', 'web', '--file', file])).toMatchObject({ code: 4 });
    expect((await tether(['teams', 'add', 'web', '--path', 'web', '--file', file])).code).toBe(0);
    expect(await tether(['teams', 'rm', 'api', '--file', file])).toMatchObject({ code: 4, stderr: expect.stringMatching(/team "api" is not in/) });
    expect(await tether(['teams', 'add', 'web', '--path', 'api', '--file', file])).toMatchObject({ code: 2, stderr: expect.stringMatching(/team "web" already exists/) });
    expect((await tether(['teams', 'add', 'web', '--path', 'api', '--replace', '--file', file])).code).toBe(0);
    expect(readFileSync(file, 'utf8')).toContain(`path: ${join(root, 'api')}`);
  });

  it('lists a broken file\'s problems instead of its teams', async () => {
    mkdirSync(join(dir, 'etc'));
    writeFileSync(file, `teams:\n  web: { path: ${join(root, 'web')}, permisionMode: plan }\n`);
    expect(await tether(['teams', 'ls', '--file', file])).toMatchObject({ code: 2, stderr: expect.stringMatching(/team "web": \(the team\): Unrecognized key: "permisionMode"/) });
  });

  it('serializes edits of several processes at once: none is lost, nothing is left behind', async () => {
    const names = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8'];
    const runs = await Promise.all(names.map((name) => tether(['teams', 'add', name, '--path', 'web', '--file', file])));
    expect(runs.map((r) => r.code)).toEqual(names.map(() => 0));
    const listed = JSON.parse((await tether(['teams', 'ls', '--json', '--file', file])).stdout) as Array<{ name: string }>;
    expect(listed.map((t) => t.name).sort()).toEqual(names);
    expect(readdirSync(join(dir, 'etc'))).toEqual(['teams.yaml']);
  });
});
