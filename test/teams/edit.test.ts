import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadTeamsFile } from '../../src/teams/config.js';
import { addTeam, removeTeam } from '../../src/teams/edit.js';

let dir: string;
let root: string;
beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'tether-teams-edit-')));
  root = join(dir, 'projects');
  for (const d of ['web', 'api', 'docs']) mkdirSync(join(root, d), { recursive: true });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const TOKEN = 'tok-0123456789abcdef';

/** The error `fn` throws (it must throw). */
function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('nothing was thrown');
}

describe('editing the teams file', () => {
  it('keeps a YAML file\'s comments and order through an add and an rm', () => {
    const file = join(dir, 'teams.yaml');
    writeFileSync(
      file,
      [
        '# Who may ask whom.',
        'defaults:',
        '  permissionMode: acceptEdits # every team edits',
        'teams:',
        '  web:',
        `    path: ${join(root, 'web')}`,
        '    description: The web app',
        '  # the service behind it',
        '  api:',
        `    path: ${join(root, 'api')} # moved in May`,
        '# end of teams',
        '',
      ].join('\n'),
    );
    const added = addTeam(file, 'billing', { remote: { url: 'https://billing.example.com', token: TOKEN }, description: 'Invoices' }, [root]);
    expect([...added.teams.keys()]).toEqual(['web', 'api', 'billing']);
    let text = readFileSync(file, 'utf8');
    for (const comment of ['# Who may ask whom.', '# every team edits', '# the service behind it', '# moved in May', '# end of teams']) expect(text).toContain(comment);
    expect(text.indexOf('billing:')).toBeGreaterThan(text.indexOf('api:'));

    const removed = removeTeam(file, 'web', [root]);
    expect([...removed.teams.keys()]).toEqual(['api', 'billing']);
    text = readFileSync(file, 'utf8');
    for (const comment of ['# Who may ask whom.', '# every team edits', '# the service behind it', '# moved in May', '# end of teams']) expect(text).toContain(comment);
    expect(text).not.toContain('The web app');
    expect(loadTeamsFile(file, [root]).teams.get('api')).toMatchObject({ path: join(root, 'api'), permissionMode: 'acceptEdits' });
  });

  it('keeps a JSON file JSON, pretty-printed; a replacement keeps its place', () => {
    const file = join(dir, 'teams.json');
    writeFileSync(file, JSON.stringify({ teams: { web: { path: join(root, 'web') }, api: { path: join(root, 'api') } } }));
    addTeam(file, 'docs', { path: join(root, 'docs'), model: 'sonnet' }, [root]);
    const text = readFileSync(file, 'utf8');
    expect(text).toBe(`${JSON.stringify(JSON.parse(text), null, 2)}\n`);
    expect(Object.keys(JSON.parse(text).teams)).toEqual(['web', 'api', 'docs']);

    addTeam(file, 'web', { path: join(root, 'web'), description: 'The web app' }, [root], { replace: true });
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')).teams)).toEqual(['web', 'api', 'docs']);
    removeTeam(file, 'api', [root]);
    expect(loadTeamsFile(file, [root]).teams.get('web')).toMatchObject({ description: 'The web app' });
    expect([...loadTeamsFile(file, [root]).teams.keys()]).toEqual(['web', 'docs']);
  });

  it('creates a missing file and its directory, readable by its owner only (it may hold tokens)', () => {
    const file = join(dir, 'etc', 'tether', 'teams.yaml');
    addTeam(file, 'web', { path: join(root, 'web') }, [root]);
    expect(readFileSync(file, 'utf8')).toBe(`teams:\n  web:\n    path: ${join(root, 'web')}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const json = join(dir, 'new.json');
    addTeam(json, 'web', { path: join(root, 'web') }, [root]);
    expect(JSON.parse(readFileSync(json, 'utf8'))).toEqual({ teams: { web: { path: join(root, 'web') } } });
    // A refused first add leaves neither the file nor the directories it would have made.
    expect(() => addTeam(join(dir, 'new', 'deeper', 'teams.yaml'), 'Bad', { path: join(root, 'web') }, [root])).toThrow(/the name must be/);
    expect(readdirSync(dir).sort()).toEqual(['etc', 'new.json', 'projects']);
  });

  it('refuses a bad edit whole, listing every problem, and leaves the file byte for byte as it was', () => {
    const file = join(dir, 'teams.yaml');
    const before = `# mine\nteams:\n  web: { path: ${join(root, 'web')} }   # flow style, my way\n`;
    writeFileSync(file, before);
    const inode = statSync(file).ino;

    const taken = thrown(() => addTeam(file, 'web', { path: join(root, 'api') }, [root]));
    expect(taken).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('team "web" already exists') });

    const bad = thrown(() => addTeam(file, 'Bad/..', { path: 'projects/api', permissionMode: 'yolo' as never }, [root]));
    expect(bad).toMatchObject({ code: 'INVALID_INPUT' });
    expect(bad.message).toMatch(/was not changed: with team "Bad\/\.\." added it would have one problem/);
    expect(bad.message).toMatch(/team "Bad\/\.\.": the name must be/);

    expect(thrown(() => addTeam(file, 'api', { path: join(root, 'api'), permissionMode: 'yolo' as never }, [root])).message).toMatch(/team "api": permissionMode: /);
    expect(thrown(() => addTeam(file, 'api', { path: 'projects/api' }, [root])).message).toMatch(/team "api": path: projects\/api is not an absolute path/);

    // A name that is a prototype's in JavaScript is a name like any other, and refused as one.
    expect(thrown(() => addTeam(file, '__proto__', { path: join(root, 'api') }, [root])).message).toMatch(/team "__proto__": the name must be/);
    const json = join(dir, 'teams.json');
    writeFileSync(json, '{"teams":{}}');
    expect(thrown(() => addTeam(json, '__proto__', { path: join(root, 'api') }, [root])).message).toMatch(/team "__proto__": the name must be/);
    expect(readFileSync(json, 'utf8')).toBe('{"teams":{}}');

    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(statSync(file).ino).toBe(inode);
    expect(readdirSync(dir).sort()).toEqual(['projects', 'teams.json', 'teams.yaml']);
  });

  it('refuses an edit that leaves another team broken, naming that team', () => {
    const file = join(dir, 'teams.yaml');
    writeFileSync(file, `teams:\n  web: { path: ${join(root, 'web')} }\n  gone: { path: ${join(root, 'gone')} }\n`);
    const before = readFileSync(file, 'utf8');
    const message = thrown(() => addTeam(file, 'api', { path: 'api' }, [root])).message;
    expect(message).toMatch(/it would have 2 problems/);
    expect(message).toMatch(/team "gone": path: .*gone does not exist/);
    expect(message).toMatch(/team "api": path: api is not an absolute path/);
    expect(thrown(() => addTeam(file, 'api', { path: join(root, 'api') }, [root])).message).toMatch(/one problem:\n- team "gone": path: .*gone does not exist$/);
    expect(readFileSync(file, 'utf8')).toBe(before);
    // Removing the broken team is the way out.
    expect([...removeTeam(file, 'gone', [root]).teams.keys()]).toEqual(['web']);
  });

  it('refuses a file that is not YAML or JSON without touching it', () => {
    const file = join(dir, 'teams.yaml');
    writeFileSync(file, 'teams: [unclosed\n');
    expect(thrown(() => addTeam(file, 'web', { path: join(root, 'web') }, [root]))).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/is not valid YAML/) });
    const json = join(dir, 'teams.json');
    writeFileSync(json, '{ "teams": ');
    expect(thrown(() => addTeam(json, 'web', { path: join(root, 'web') }, [root])).message).toMatch(/is not valid JSON/);
    expect(readFileSync(file, 'utf8')).toBe('teams: [unclosed\n');
  });

  it('rm of a team or a file that is not there is NOT_FOUND', () => {
    const file = join(dir, 'teams.yaml');
    expect(thrown(() => removeTeam(file, 'web', [root]))).toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/teams\.yaml does not exist/) });
    expect(thrown(() => removeTeam(join(dir, 'no', 'such', 'teams.yaml'), 'web', [root]))).toMatchObject({ code: 'NOT_FOUND' });
    addTeam(file, 'web', { path: join(root, 'web') }, [root]);
    expect(thrown(() => removeTeam(file, 'api', [root]))).toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('team "api" is not in') });
  });

  it('writes by replacing the file whole (a new inode), keeps its mode, and leaves no temporary or lock file', () => {
    const file = join(dir, 'teams.yaml');
    addTeam(file, 'web', { path: join(root, 'web') }, [root]);
    chmodSync(file, 0o640);
    // Each write is a new file renamed over the old one (a freed inode may come back later on).
    let inode = statSync(file).ino;
    const edits = [() => addTeam(file, 'api', { path: join(root, 'api') }, [root]), () => addTeam(file, 'docs', { path: join(root, 'docs') }, [root]), () => removeTeam(file, 'api', [root])];
    for (const edit of edits) {
      edit();
      expect(statSync(file).ino).not.toBe(inode);
      inode = statSync(file).ino;
    }
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir).sort()).toEqual(['projects', 'teams.yaml']);
  });

  it('takes over the lock of an edit whose process died', () => {
    const file = join(dir, 'teams.yaml');
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(`${file}.lock`, String(dead));
    addTeam(file, 'web', { path: join(root, 'web') }, [root]);
    expect(readdirSync(dir).sort()).toEqual(['projects', 'teams.yaml']);
  });
});
