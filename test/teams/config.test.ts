import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadTeamsFile, parseTeams, teamKey } from '../../src/teams/config.js';

let dir: string;
let root: string;
let outside: string;
beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'tether-teams-')));
  root = join(dir, 'projects');
  outside = join(dir, 'elsewhere');
  for (const d of [join(root, 'web'), join(root, 'api'), outside]) mkdirSync(d, { recursive: true });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The problems a refused document lists, one per line. */
function problemsOf(value: unknown): string[] {
  try {
    parseTeams(value, [root]);
  } catch (err) {
    expect(err).toMatchObject({ code: 'INVALID_INPUT' });
    return (err as Error).message.split('\n- ').slice(1);
  }
  throw new Error('the document was accepted');
}

describe('the teams file', () => {
  it('loads YAML or JSON: local teams with their real paths and settings, defaults, remote teams', () => {
    const yaml = join(dir, 'teams.yaml');
    writeFileSync(
      yaml,
      [
        'defaults:',
        '  permissionMode: acceptEdits',
        'teams:',
        '  frontend:',
        `    path: ${join(root, 'web')}`,
        '    description: The web app',
        '  backend:',
        `    path: ${join(root, 'api')}/`,
        '    backend: codex',
        '    permissionMode: plan',
        '  billing:',
        '    remote: { url: "https://billing.example.com:7420", token: "tok-0123456789abcdef" }',
        '',
      ].join('\n'),
    );
    const { teams } = loadTeamsFile(yaml, [root]);
    expect([...teams.keys()]).toEqual(['frontend', 'backend', 'billing']);
    expect(teams.get('frontend')).toMatchObject({ path: join(root, 'web'), description: 'The web app', permissionMode: 'acceptEdits', remote: null });
    expect(teams.get('backend')).toMatchObject({ path: join(root, 'api'), backend: 'codex', permissionMode: 'plan' });
    expect(teams.get('billing')).toMatchObject({ path: null, remote: { url: 'https://billing.example.com:7420' } });

    const json = join(dir, 'teams.json');
    writeFileSync(json, JSON.stringify({ teams: { frontend: { path: join(root, 'web') } } }));
    expect(loadTeamsFile(json, [root]).teams.get('frontend')).toMatchObject({ description: '', path: join(root, 'web') });
    expect(teamKey('frontend', 'backend')).toBe('team:frontend->backend');
  });

  it('refuses a file with every problem listed, each naming its team and field', () => {
    symlinkSync(outside, join(root, 'sneaky'));
    const problems = problemsOf({
      teams: {
        Frontend: { path: join(root, 'web') },
        '../etc': { path: join(root, 'web') },
        'a\u0007b': { path: join(root, 'web') },
        ['__proto__']: { path: join(root, 'web') },
        relative: { path: 'projects/web' },
        missing: { path: join(root, 'nope') },
        escape: { path: join(root, 'sneaky') },
        dotdot: { path: join(root, '..', 'elsewhere') },
        typo: { path: join(root, 'web'), permisionMode: 'plan' },
        badmode: { path: join(root, 'web'), permissionMode: 'yolo' },
        noremoteurl: { remote: { url: 'ftp://x.example.com', token: 'tok-0123456789abcdef' } },
        shorttoken: { remote: { url: 'https://x.example.com', token: 'short' } },
        both: { path: join(root, 'web'), remote: { url: 'https://x.example.com', token: 'tok-0123456789abcdef' } },
        nothing: {},
        fine: { path: join(root, 'web') },
      },
    });
    expect(problems).toEqual([
      expect.stringMatching(/^team "Frontend": the name must be/),
      expect.stringMatching(/^team "\.\.\/etc": the name must be/),
      expect.stringMatching(/^team "a\\u0007b": the name must be/),
      expect.stringMatching(/^team "__proto__": the name must be/),
      expect.stringMatching(/^team "relative": path: projects\/web is not an absolute path$/),
      expect.stringMatching(/^team "missing": path: .*nope does not exist$/),
      expect.stringMatching(/^team "escape": path: .*sneaky is outside the directories this server allows/),
      expect.stringMatching(/^team "dotdot": path: .* is outside the directories this server allows/),
      expect.stringMatching(/^team "typo": \(the team\): Unrecognized key: "permisionMode"$/),
      expect.stringMatching(/^team "badmode": permissionMode: /),
      expect.stringMatching(/^team "noremoteurl": remote\.url: must be an http\(s\) URL$/),
      expect.stringMatching(/^team "shorttoken": remote\.token: must be at least 16 characters/),
      expect.stringMatching(/^team "both": path: a remote team has no local path/),
      expect.stringMatching(/^team "nothing": path: required for a local team/),
    ]);
  });

  it('refuses a document of the wrong shape, and a file that is not YAML or JSON', () => {
    expect(problemsOf({ team: {} })).toEqual([expect.stringMatching(/^teams: /), expect.stringMatching(/^\(top level\): Unrecognized key: "team"/)]);
    expect(problemsOf({ teams: {}, defaults: { path: '/x' } })).toEqual([expect.stringMatching(/^defaults: Unrecognized key: "path"/)]);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{ "teams": ');
    expect(() => loadTeamsFile(broken, [root])).toThrow(/is not valid JSON/);
    expect(() => loadTeamsFile(join(dir, 'absent.yaml'), [root])).toThrow(/cannot be read/);
  });
});
