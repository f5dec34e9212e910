import { readFileSync, realpathSync, statSync } from 'node:fs';
import { extname, isAbsolute } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { BACKENDS, PERMISSION_MODES } from '../domain/types.js';
import { invalidInput } from '../errors.js';
import { isInside } from '../lib/paths.js';

/*
 * The teams file (TETHER_TEAMS): which projects' agents may talk to each other, and how each runs.
 * A message from team A to team B runs in B's project with B's settings, on the key `team:A->B`.
 */

/** A team's name: what other teams call it by, and part of every key of its conversations. */
export const TEAM_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const PRINTABLE_LINE = /^[^\p{Cc}]*$/u;

/** How a team's agent runs; `defaults` gives the same settings to every team that leaves one out. */
const settingsShape = {
  model: z.string().min(1).max(200).regex(PRINTABLE_LINE).optional(),
  permissionMode: z.enum(PERMISSION_MODES).optional(),
  appendSystemPrompt: z.string().max(100_000).optional(),
  approvals: z.enum(['ask', 'deny']).optional(),
  backend: z.enum(BACKENDS).optional(),
};

const remoteSchema = z
  .object({
    url: z
      .string()
      .max(2048)
      .refine((url) => /^https?:\/\/[^\s/]+/.test(url) && URL.canParse(url), 'must be an http(s) URL'),
    token: z.string().min(16, 'must be at least 16 characters (a daemon API token)').max(1000).regex(/^[^\s\p{Cc}]+$/u, 'must not contain whitespace'),
  })
  .strict();

const teamSchema = z
  .object({
    /** The project directory the team's agent works in (absent for a remote team). */
    path: z.string().min(1).max(4096).optional(),
    description: z.string().max(2000).regex(PRINTABLE_LINE).default(''),
    ...settingsShape,
    /** Served by another Tether daemon, reached over its HTTP API with this token. */
    remote: remoteSchema.optional(),
  })
  .strict();

const fileSchema = z
  .object({
    defaults: z.object(settingsShape).strict().optional(),
    teams: z.record(z.string(), z.unknown()),
  })
  .strict();

export type TeamSettings = z.output<z.ZodObject<typeof settingsShape>>;

/** One team as written in the file (`teams.<name>`), before it is checked. */
export type TeamEntry = z.input<typeof teamSchema>;

export interface Team extends TeamSettings {
  name: string;
  description: string;
  /** The project directory, real path (symlinks resolved); null for a remote team. */
  path: string | null;
  remote: { url: string; token: string } | null;
}

export interface TeamsConfig {
  teams: ReadonlyMap<string, Team>;
}

/** The key of the conversation team `from` has with team `to` (each direction is its own). */
export function teamKey(from: string, to: string): string {
  return `team:${from}->${to}`;
}

const TEAM_KEY = /^team:([a-z0-9][a-z0-9_-]{0,63})->([a-z0-9][a-z0-9_-]{0,63})$/;

/** The two teams of a `team:A->B` key, or null for any other key. */
export function parseTeamKey(key: string): { from: string; to: string } | null {
  const match = TEAM_KEY.exec(key);
  return match ? { from: match[1]!, to: match[2]! } : null;
}

/**
 * Reads and checks a teams file (YAML, or JSON for `.json`). Every problem is reported at once,
 * each naming its team and field; a file with any problem is refused whole (INVALID_INPUT).
 * `roots` are the real paths a local team's project must lie in (TETHER_ALLOWED_ROOTS).
 */
export function loadTeamsFile(file: string, roots: readonly string[]): TeamsConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw invalidInput(`the teams file ${file} cannot be read: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw invalidInput(`the teams file ${file} is not valid ${extname(file).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  return parseTeams(value, roots, file);
}

/** Checks a teams document (already parsed); see {@link loadTeamsFile}. */
export function parseTeams(value: unknown, roots: readonly string[], source = 'the teams file'): TeamsConfig {
  const problems: string[] = [];
  const parsed = fileSchema.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.map(String).join('.') || '(top level)'}: ${issue.message}`);
    throw refused(source, problems);
  }
  const defaults = parsed.data.defaults ?? {};
  const teams = new Map<string, Team>();
  // The document's own entries, not zod's copy: that one silently drops a `__proto__` key, which
  // must be refused with the other bad names rather than vanish.
  const entries = Object.entries((value as { teams: Record<string, unknown> }).teams);
  for (const [name, raw] of entries) {
    const where = `team "${printable(name)}"`;
    if (!TEAM_NAME.test(name)) {
      problems.push(`${where}: the name must be 1-64 of a-z, 0-9, "_" and "-", starting with a letter or digit`);
      continue;
    }
    const team = teamSchema.safeParse(raw);
    if (!team.success) {
      for (const issue of team.error.issues) problems.push(`${where}: ${issue.path.map(String).join('.') || '(the team)'}: ${issue.message}`);
      continue;
    }
    const { path, remote, description, ...settings } = team.data;
    let real: string | null = null;
    if (remote && path !== undefined) problems.push(`${where}: path: a remote team has no local path (its daemon has it)`);
    else if (!remote) {
      const checked = projectPath(path, roots);
      if ('real' in checked) real = checked.real;
      else problems.push(`${where}: path: ${checked.problem}`);
    }
    teams.set(name, { ...defaults, ...settings, name, description, path: real, remote: remote ?? null });
  }
  if (problems.length > 0) throw refused(source, problems);
  return { teams };
}

/** The project directory's real path (symlinks resolved), or why it is refused. */
function projectPath(path: string | undefined, roots: readonly string[]): { real: string } | { problem: string } {
  if (path === undefined) return { problem: 'required for a local team (or give remote: { url, token })' };
  if (!isAbsolute(path)) return { problem: `${printable(path)} is not an absolute path` };
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return { problem: `${printable(path)} does not exist` };
  }
  if (!statSync(real).isDirectory()) return { problem: `${printable(path)} is not a directory` };
  // Checked on the real path: a symlink inside the roots to a directory outside them is outside.
  if (!roots.some((root) => isInside(root, real))) return { problem: `${printable(path)} is outside the directories this server allows (TETHER_ALLOWED_ROOTS)` };
  return { real };
}

/** INVALID_INPUT listing every problem; `details.problems` holds them for a caller that words its own refusal. */
function refused(source: string, problems: string[]): Error {
  return invalidInput(`${source} was not loaded; ${problems.length === 1 ? 'one problem' : `${problems.length} problems`}:\n- ${problems.join('\n- ')}`, { problems });
}

/** A name or path as it can be shown in one line of an error (control characters escaped). */
function printable(text: string): string {
  return JSON.stringify(text).slice(1, -1).slice(0, 200);
}
