import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { ErrorCode } from '../src/errors.js';

describe('config', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({}, {})).toMatchObject({
      db: './data/tether.db',
      persistence: true,
      sqliteSynchronous: 'FULL',
      maxSessions: 1000,
      idleTimeoutSec: 3600,
      onLimit: 'evict-lru',
      onBusy: 'queue',
      maxQueue: 16,
      resetAt: { claude: 0.95, codex: 0.95 },
      compactAt: { claude: 0.7, codex: 0.7 },
      tenant: 'default',
      logFormat: 'auto',
      exitWithParent: 'auto',
      teamsMaxDepth: 4,
      teamsMaxAsks: 8,
    });
    expect(loadConfig({}, {}).teams).toBeUndefined();
  });

  it('reads the environment, seed names included, first name winning', () => {
    const config = loadConfig({}, { DATABASE_PATH: '/tmp/x.db', MAX_SESSIONS: '10', DEFAULT_TIMEOUT: '300', ENABLE_PERSISTENCE: 'false', TETHER_RESET_AT: '0.5', TETHER_RESET_AT_CODEX: '0.9' });
    expect(config).toMatchObject({ db: '/tmp/x.db', maxSessions: 10, idleTimeoutSec: 300, persistence: false, resetAt: { claude: 0.5, codex: 0.9 } });
    expect(loadConfig({}, { TETHER_MAX_SESSIONS: '5', MAX_SESSIONS: '10' }).maxSessions).toBe(5);
  });

  it('reads the Codex settings: the default agent, its config.toml, its homes, threads per process', () => {
    expect(loadConfig({}, {})).toMatchObject({ defaultBackend: 'claude', codexThreadsPerProcess: 8 });
    expect(
      loadConfig({}, { TETHER_DEFAULT_BACKEND: 'codex', TETHER_CODEX_CONFIG: '/etc/codex.toml', TETHER_CODEX_HOMES: '/var/lib/codex', TETHER_CODEX_THREADS: '4', TETHER_CODEX_PATH: '/opt/codex' }),
    ).toMatchObject({ defaultBackend: 'codex', codexConfig: '/etc/codex.toml', codexHomes: '/var/lib/codex', codexThreadsPerProcess: 4, codexPath: '/opt/codex' });
    expect(() => loadConfig({}, { TETHER_DEFAULT_BACKEND: 'gemini' })).toThrow(/TETHER_DEFAULT_BACKEND/);
    expect(() => loadConfig({}, { TETHER_CODEX_THREADS: '0' })).toThrow(/TETHER_CODEX_THREADS/);
  });

  it('reads the teams settings: the file, how deep a chain of asks goes, asks waiting per team', () => {
    expect(loadConfig({}, { TETHER_TEAMS: '/etc/tether/teams.yaml', TETHER_TEAMS_MAX_DEPTH: '2', TETHER_TEAMS_MAX_ASKS: '32' })).toMatchObject({
      teams: '/etc/tether/teams.yaml',
      teamsMaxDepth: 2,
      teamsMaxAsks: 32,
    });
  });

  it('lets explicit options override the environment', () => {
    expect(loadConfig({ maxSessions: 7 }, { TETHER_MAX_SESSIONS: '5' }).maxSessions).toBe(7);
  });

  const outOfBounds: Array<[string, Record<string, string>]> = [
    ['TETHER_MAX_SESSIONS', { TETHER_MAX_SESSIONS: '0' }],
    ['TETHER_MAX_SESSIONS', { TETHER_MAX_SESSIONS: '10000001' }],
    ['TETHER_MAX_SESSIONS', { TETHER_MAX_SESSIONS: 'many' }],
    ['TETHER_IDLE_TIMEOUT', { TETHER_IDLE_TIMEOUT: '-1' }],
    ['TETHER_IDLE_TIMEOUT', { TETHER_IDLE_TIMEOUT: '1.5' }],
    ['TETHER_MAX_QUEUE', { TETHER_MAX_QUEUE: '0' }],
    ['TETHER_LEASE_TTL_MS', { TETHER_LEASE_TTL_MS: '10' }],
    ['TETHER_ON_LIMIT', { TETHER_ON_LIMIT: 'drop-random' }],
    ['ENABLE_PERSISTENCE', { ENABLE_PERSISTENCE: 'maybe' }],
    ['resetAt', { TETHER_RESET_AT: '1.5' }],
    ['resetAt', { TETHER_RESET_AT: '0' }],
    ['TETHER_TENANT', { TETHER_TENANT: 'bad tenant' }],
    ['TETHER_LOG_FORMAT', { TETHER_LOG_FORMAT: 'colour' }],
    ['TETHER_EXIT_WITH_PARENT', { TETHER_EXIT_WITH_PARENT: 'sometimes' }],
    ['TETHER_TEAMS', { TETHER_TEAMS: `/${'x'.repeat(4096)}` }],
    ['TETHER_TEAMS_MAX_DEPTH', { TETHER_TEAMS_MAX_DEPTH: '0' }],
    ['TETHER_TEAMS_MAX_DEPTH', { TETHER_TEAMS_MAX_DEPTH: '17' }],
    ['TETHER_TEAMS_MAX_ASKS', { TETHER_TEAMS_MAX_ASKS: '0' }],
    ['TETHER_TEAMS_MAX_ASKS', { TETHER_TEAMS_MAX_ASKS: '257' }],
    ['TETHER_TEAMS_MAX_ASKS', { TETHER_TEAMS_MAX_ASKS: '2.5' }],
  ];
  it.each(outOfBounds)('refuses %s out of bounds, naming it', (name, env) => {
    expect(() => loadConfig({}, env)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_INPUT, message: expect.stringContaining(name) }));
  });

  it('accepts the bounds themselves', () => {
    expect(loadConfig({}, { TETHER_MAX_SESSIONS: '1', TETHER_IDLE_TIMEOUT: '0', TETHER_MAX_QUEUE: '1', TETHER_RESET_AT: '1' })).toMatchObject({ maxSessions: 1, idleTimeoutSec: 0, maxQueue: 1 });
    expect(loadConfig({}, { TETHER_TEAMS_MAX_DEPTH: '1', TETHER_TEAMS_MAX_ASKS: '1' })).toMatchObject({ teamsMaxDepth: 1, teamsMaxAsks: 1 });
    expect(loadConfig({}, { TETHER_TEAMS_MAX_DEPTH: '16', TETHER_TEAMS_MAX_ASKS: '256' })).toMatchObject({ teamsMaxDepth: 16, teamsMaxAsks: 256 });
  });

  it('refuses unknown settings', () => {
    expect(() => loadConfig({ maxSesions: 3 } as never, {})).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_INPUT }));
  });
});
