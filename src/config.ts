import { freemem } from 'node:os';
import { z } from 'zod';
import { describeProblem, unwrapSchema } from './config-words.js';
import { invalidInput } from './errors.js';
import { PERMISSION_MODES } from './domain/types.js';

/**
 * Every setting in one schema: default, bounds, and the environment variables that set it
 * (first listed wins; the others are the names the seed systems used).
 */
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])]).transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const ratio = z.coerce.number().gt(0).max(1);

/** A warm Claude process holds ~200 MB; budget 300 MB each from free memory, at most 32. */
export function defaultMaxLive(freeBytes: number = freemem()): number {
  return Math.max(1, Math.min(32, Math.floor(freeBytes / (300 * 1024 * 1024))));
}

export const configSchema = z
  .object({
    /** SQLite database file. `:memory:` keeps nothing. */
    db: z.string().min(1).default('./data/tether.db'),
    /** PostgreSQL URL (several nodes sharing one fleet). */
    databaseUrl: z.string().url().optional(),
    /** PostgreSQL schema for Tether's tables (created if missing); default: the search_path's first. */
    databaseSchema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).optional(),
    /** false: in-memory store, nothing survives the process. */
    persistence: bool.default(true),
    /** SQLite `synchronous`: FULL survives power loss; NORMAL is faster and survives process crashes. */
    sqliteSynchronous: z.enum(['OFF', 'NORMAL', 'FULL', 'EXTRA']).default('FULL'),
    /** Live (idle or running) sessions at most, over all tenants. */
    maxSessions: int(1, 10_000_000).default(1000),
    /** Sliding idle TTL of a session in seconds; 0 = never expires. */
    idleTimeoutSec: int(0, 10 * 365 * 24 * 3600).default(3600),
    /** At the session cap: evict the least recently used idle session, or refuse. */
    onLimit: z.enum(['evict-lru', 'reject']).default('evict-lru'),
    /** A message for a busy session: wait in its queue, or refuse at once. */
    onBusy: z.enum(['queue', 'reject']).default('queue'),
    /** Turns that may wait behind a running one, per session. */
    maxQueue: int(1, 10_000).default(16),
    /** How long a turn's lease lasts without renewal; renewed every sixth of it while the turn runs. */
    leaseTtlMs: int(1_000, 3_600_000).default(30_000),
    /**
     * Turns a dead process had accepted but not started: run them here (`rerun`, no prompt is
     * lost) or end them `interrupted`. Turns it was running always end `interrupted`: they may
     * have half-run tools, and running them twice could repeat those.
     */
    orphanedTurns: z.enum(['rerun', 'interrupt']).default('rerun'),
    /**
     * Keep Tether's own copy of every agent transcript in the store (resume reads it back), so a
     * wiped ~/.claude, another HOME or the agent's retention sweep loses no conversation.
     */
    mirrorTranscripts: bool.default(true),
    /** `user=5,channel=2`: at most that many live sessions per value of each label (LIMIT_REACHED). */
    labelQuotas: z
      .union([z.string(), z.record(z.string(), z.number().int().min(1))])
      .default({})
      .transform((v, ctx) => {
        if (typeof v !== 'string') return v;
        const out: Record<string, number> = {};
        for (const part of v.split(',').map((p) => p.trim()).filter(Boolean)) {
          const m = /^([A-Za-z0-9_.-]{1,64})=(\d{1,9})$/.exec(part);
          if (!m || Number(m[2]) < 1) {
            ctx.addIssue({ code: 'custom', message: `"${part}" is not label=N (N >= 1)` });
            return z.NEVER;
          }
          out[m[1]!] = Number(m[2]);
        }
        return out;
      }),
    /**
     * Share every event through the store's event journal, so each node's `/v1/events` and turn
     * streams show turns run by the others. Default: on for PostgreSQL, off for SQLite (turn on
     * when a daemon and CLI processes share one file).
     */
    shareEvents: bool.optional(),
    /** Janitor period in seconds (expiry, cap, dead leases); 0 = only on demand (`gc`). */
    janitorIntervalSec: int(0, 86_400).default(60),
    /** Context ratio at which the next message starts a new generation, per backend. */
    /** Context ratio at which the next message first compacts the conversation, per backend. */
    compactAt: z.object({ claude: ratio.default(0.7), codex: ratio.default(0.7) }).prefault({}),
    /** Context ratio at which the next message starts a new generation (with a recap), per backend. */
    resetAt: z.object({ claude: ratio.default(0.95), codex: ratio.default(0.95) }).prefault({}),
    /** Agent processes at most (warm runners and spares); default from free memory. */
    maxLive: int(1, 1_000).default(() => defaultMaxLive()),
    /** Seconds an idle warm runner keeps its process before hibernating. */
    liveIdleSec: int(1, 7 * 24 * 3600).default(600),
    /** Spare agent processes kept parked for new sessions. */
    spares: int(0, 16).default(1),
    /**
     * Niceness added to agent processes and their tools: on a contended CPU, Tether renewing
     * their leases comes first, so a busy node does not give up turns that run fine. 0 = off.
     */
    agentNice: int(0, 19).default(5),
    /** Tenant of callers that do not name one (auth off, embedded use). */
    tenant: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/).default('default'),
    /** Session defaults, used when a first message does not set them. */
    defaultCwd: z.string().min(1).optional(),
    defaultModel: z.string().min(1).max(200).optional(),
    defaultPermissionMode: z.enum(PERMISSION_MODES).optional(),
    /**
     * What happens to a tool call the agent would ask a person about: `deny` (Claude Code refuses
     * it, as without a person) or `ask` (it becomes an approval). A session's own option wins.
     */
    approvals: z.enum(['ask', 'deny']).default('deny'),
    /**
     * How long a turn waits on a person with its agent process kept; past it the turn parks: the
     * process is given back, and a new one resumes the conversation once the approval is decided.
     */
    approvalParkSec: int(0, 30 * 24 * 3600).default(60),
    /** How long an approval waits for a decision before it expires (and counts as a denial). */
    approvalTimeoutSec: int(1, 30 * 24 * 3600).default(24 * 3600),
    /** A turn running longer than this many seconds is interrupted; 0 = no limit. */
    maxTurnDurationSec: int(0, 7 * 24 * 3600).default(3600),
    /** Longest prompt accepted, in characters. */
    maxPromptChars: int(1, 10_000_000).default(200_000),
    /** A Claude Code binary to use instead of the one inside the Agent SDK package. */
    claudePath: z.string().min(1).optional(),
    /** The agent of a new session whose first message does not name one. */
    defaultBackend: z.enum(['claude', 'codex']).default('claude'),
    /** A Codex binary to use instead of the one inside the `@openai/codex` package. */
    codexPath: z.string().min(1).optional(),
    /**
     * The operator's Codex `config.toml` (model, model providers, every other Codex setting): the
     * base of each CODEX_HOME Tether makes; Tether's own settings are laid over it per thread.
     */
    codexConfig: z.string().min(1).optional(),
    /** Where each tenant's CODEX_HOME is made; default: `codex/` beside the SQLite file (`./data/codex`). */
    codexHomes: z.string().min(1).optional(),
    /** Codex threads one app-server process holds at most; more start another process. */
    codexThreadsPerProcess: int(1, 1_000).default(8),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Log lines as JSON, or as `HH:MM:SS LEVEL component: msg key=value`; `auto`: readable on a terminal, JSON otherwise. */
    logFormat: z.enum(['auto', 'json', 'pretty']).default('auto'),

    // The daemon (`tether serve`).
    port: int(0, 65_535).default(7420),
    host: z.string().min(1).max(255).default('127.0.0.1'),
    /** `token=tenant,token=tenant`: with tokens every /v1 route needs `Authorization: Bearer`. */
    tokens: z.string().max(100_000).optional(),
    /** A file holding the same `token=tenant` pairs, one per line or comma-separated. */
    tokensFile: z.string().min(1).optional(),
    /**
     * The bearer token `/metrics` asks for (its series sum every tenant). With API tokens and no
     * metrics token, `/metrics` is closed; without either it is open (loopback only, as the API).
     * At least 16 characters (as API tokens), no whitespace.
     */
    metricsToken: z
      .string()
      .min(16)
      .max(1_000)
      .regex(/^[^\s\p{Cc}]+$/u, 'must not contain whitespace or control characters')
      .optional(),
    /** Directories a session's cwd must lie in, `:`-separated; default: where the server started. */
    allowedRoots: z.string().min(1).optional(),
    /**
     * The teams file (YAML, or JSON for `.json`; src/teams/config.ts): which projects' agents may
     * ask each other. The daemon reloads it when it changes; `tether teams add` creates it.
     */
    teams: z.string().min(1).max(4096).optional(),
    /** How deep a chain of team asks may go (A asks B, B asks C…): a loop of asks ends here. */
    teamsMaxDepth: int(1, 16).default(4),
    /** Asks one team may have waiting at once: one chatty agent cannot hold every runner. */
    teamsMaxAsks: int(1, 256).default(8),
    /** Whether HTTP clients may ask for `permissionMode: bypassPermissions`. */
    allowBypassPermissions: bool.default(false),
    /** Largest request body in bytes. */
    bodyLimitBytes: int(1_024, 64 * 1024 * 1024).default(1024 * 1024),
    /** Most request headers accepted. */
    maxHeaders: int(10, 1_000).default(100),
    /**
     * Seconds a client gets to send a whole request, headers and body; a slower one gets 408 and
     * its connection is closed. Bounds receiving only: a response (an SSE turn) may stream longer.
     */
    requestTimeoutSec: int(1, 3_600).default(30),
    /** Seconds running turns get to finish on SIGTERM/SIGINT before they are interrupted. */
    shutdownGraceSec: int(0, 3_600).default(30),
    /**
     * Shut down (as on SIGTERM) when the process that started the daemon is gone; `auto`: when a
     * package manager ran it (`npm start`), whose death would otherwise leave it running, adopted.
     */
    exitWithParent: z.enum(['auto', 'always', 'never']).default('auto'),
    /** Seconds between SSE keep-alive comments. */
    sseKeepAliveSec: int(1, 300).default(15),
  })
  .strict();

export type TetherConfig = z.output<typeof configSchema>;
export type TetherConfigInput = z.input<typeof configSchema>;

/** Setting -> environment variables, first one set wins. */
export const ENV_VARS: Readonly<Partial<Record<keyof TetherConfig, readonly string[]>>> = {
  db: ['TETHER_DB', 'DATABASE_PATH'],
  databaseUrl: ['TETHER_DATABASE_URL'],
  databaseSchema: ['TETHER_DATABASE_SCHEMA'],
  persistence: ['ENABLE_PERSISTENCE'],
  sqliteSynchronous: ['TETHER_SQLITE_SYNCHRONOUS'],
  maxSessions: ['TETHER_MAX_SESSIONS', 'MAX_SESSIONS'],
  idleTimeoutSec: ['TETHER_IDLE_TIMEOUT', 'DEFAULT_TIMEOUT'],
  onLimit: ['TETHER_ON_LIMIT'],
  onBusy: ['TETHER_ON_BUSY'],
  maxQueue: ['TETHER_MAX_QUEUE'],
  leaseTtlMs: ['TETHER_LEASE_TTL_MS'],
  janitorIntervalSec: ['TETHER_JANITOR_INTERVAL'],
  orphanedTurns: ['TETHER_ORPHANED_TURNS'],
  mirrorTranscripts: ['TETHER_MIRROR_TRANSCRIPTS'],
  labelQuotas: ['TETHER_LABEL_QUOTAS'],
  shareEvents: ['TETHER_SHARE_EVENTS'],
  maxLive: ['TETHER_MAX_LIVE'],
  liveIdleSec: ['TETHER_LIVE_IDLE'],
  spares: ['TETHER_SPARES'],
  agentNice: ['TETHER_AGENT_NICE'],
  tenant: ['TETHER_TENANT'],
  defaultCwd: ['TETHER_CWD'],
  defaultModel: ['TETHER_MODEL'],
  defaultPermissionMode: ['TETHER_PERMISSION_MODE'],
  maxPromptChars: ['TETHER_MAX_PROMPT_CHARS'],
  maxTurnDurationSec: ['TETHER_MAX_TURN_DURATION'],
  approvals: ['TETHER_APPROVALS'],
  approvalTimeoutSec: ['TETHER_APPROVAL_TIMEOUT'],
  approvalParkSec: ['TETHER_APPROVAL_PARK'],
  claudePath: ['TETHER_CLAUDE_PATH'],
  defaultBackend: ['TETHER_DEFAULT_BACKEND'],
  codexPath: ['TETHER_CODEX_PATH'],
  codexConfig: ['TETHER_CODEX_CONFIG'],
  codexHomes: ['TETHER_CODEX_HOMES'],
  codexThreadsPerProcess: ['TETHER_CODEX_THREADS'],
  logLevel: ['TETHER_LOG_LEVEL'],
  logFormat: ['TETHER_LOG_FORMAT'],
  port: ['TETHER_PORT'],
  host: ['TETHER_HOST'],
  tokens: ['TETHER_TOKENS'],
  tokensFile: ['TETHER_TOKENS_FILE'],
  metricsToken: ['TETHER_METRICS_TOKEN'],
  allowedRoots: ['TETHER_ALLOWED_ROOTS'],
  teams: ['TETHER_TEAMS'],
  teamsMaxDepth: ['TETHER_TEAMS_MAX_DEPTH'],
  teamsMaxAsks: ['TETHER_TEAMS_MAX_ASKS'],
  allowBypassPermissions: ['TETHER_ALLOW_BYPASS_PERMISSIONS'],
  bodyLimitBytes: ['TETHER_BODY_LIMIT'],
  maxHeaders: ['TETHER_MAX_HEADERS'],
  requestTimeoutSec: ['TETHER_REQUEST_TIMEOUT'],
  shutdownGraceSec: ['TETHER_SHUTDOWN_GRACE'],
  exitWithParent: ['TETHER_EXIT_WITH_PARENT'],
  sseKeepAliveSec: ['TETHER_SSE_KEEPALIVE'],
};

/** TETHER_RESET_AT sets the threshold of every backend; TETHER_RESET_AT_CLAUDE one of them (COMPACT_AT alike). */
function thresholdsFromEnv(env: NodeJS.ProcessEnv, name: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  const all = env[`TETHER_${name}`];
  for (const backend of ['claude', 'codex']) {
    const value = env[`TETHER_${name}_${backend.toUpperCase()}`] ?? all;
    if (value !== undefined && value !== '') out[backend] = value;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * Reads settings from the environment, then applies `overrides` (library options or CLI flags)
 * on top, and validates the result. Throws INVALID_INPUT naming the setting, its variable, the
 * value given and the value expected, in plain words (config-words.ts).
 */
export function loadConfig(overrides: Partial<TetherConfigInput> = {}, env: NodeJS.ProcessEnv = process.env): TetherConfig {
  const fromEnv: Record<string, unknown> = {};
  for (const [setting, names] of Object.entries(ENV_VARS)) {
    for (const name of names ?? []) {
      const value = env[name];
      if (value !== undefined && value !== '') {
        fromEnv[setting] = value;
        break;
      }
    }
  }
  const resetAt = thresholdsFromEnv(env, 'RESET_AT');
  if (resetAt) fromEnv.resetAt = resetAt;
  const compactAt = thresholdsFromEnv(env, 'COMPACT_AT');
  if (compactAt) fromEnv.compactAt = compactAt;

  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const merged: Record<string, unknown> = { ...fromEnv, ...defined };
  for (const name of ['resetAt', 'compactAt']) {
    if (fromEnv[name] && defined[name]) merged[name] = { ...(fromEnv[name] as object), ...(defined[name] as object) };
  }

  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const setting = issue.path.map(String).join('.') || 'config';
      const top = String(issue.path[0] ?? '');
      const variables = variablesOf(top, issue.path[1]);
      const givenInEnv = top in fromEnv && !(top in defined);
      const fromVariable = givenInEnv ? (variables.find((name) => env[name] !== undefined && env[name] !== '') ?? null) : null;
      return describeProblem({ setting, variables, fromVariable, value: valueAt(merged, issue.path) }, issue, schemaAt(issue.path));
    });
    throw invalidInput(`invalid configuration: ${problems.join('; ')}`, { problems });
  }
  return parsed.data;
}

/** The variables of a setting; a per-backend threshold has its own before the shared one. */
function variablesOf(setting: string, backend: PropertyKey | undefined): readonly string[] {
  if (setting === 'compactAt' || setting === 'resetAt') {
    const name = setting === 'compactAt' ? 'COMPACT_AT' : 'RESET_AT';
    return typeof backend === 'string' ? [`TETHER_${name}_${backend.toUpperCase()}`, `TETHER_${name}`] : [`TETHER_${name}`];
  }
  return ENV_VARS[setting as keyof TetherConfig] ?? [];
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const key of path) v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[key] : undefined;
  return v;
}

function schemaAt(path: readonly PropertyKey[]): z.ZodType | undefined {
  let schema: z.ZodType | undefined = configSchema;
  for (const key of path) {
    const s: z.ZodType | undefined = schema ? unwrapSchema(schema) : undefined;
    schema = s instanceof z.ZodObject ? (s.shape as Record<string, z.ZodType>)[String(key)] : undefined;
  }
  return schema;
}
