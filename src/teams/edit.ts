import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { Document, isMap, isScalar, parseDocument, YAMLMap } from 'yaml';
import { ErrorCode, TetherError, invalidInput, isTetherError } from '../errors.js';
import { withFileLock, writeFileAtomic } from '../lib/atomic-file.js';
import { parseTeams, type TeamEntry, type TeamsConfig } from './config.js';

/*
 * Edits of the teams file by `tether teams add|rm`. The file stays the operator's: a YAML file
 * keeps its comments and order, a JSON file stays JSON. An edit is checked whole, as the daemon
 * will load it, before anything is written; a refused edit leaves the file as it was.
 */

export interface AddTeamOptions {
  /** Replace a team of the same name; without it that is refused. */
  replace?: boolean;
}

/**
 * Adds team `name` to the teams file, creating the file (and its directory) when there is none.
 * Throws INVALID_INPUT when the name is taken (unless `replace`) or the result has any problem
 * (every one listed). Returns the teams as the file now has them.
 */
export function addTeam(file: string, name: string, fields: TeamEntry, roots: readonly string[], options: AddTeamOptions = {}): TeamsConfig {
  const path = resolve(file);
  const entry = withoutUndefined(fields);
  const edit = (text: string | null): TeamsDocument => {
    const doc = openDocument(path, text);
    if (doc.has(name) && !options.replace) throw invalidInput(`team "${name}" already exists in ${path} (--replace replaces it)`);
    doc.set(name, entry);
    return doc;
  };
  const described = `with team "${name}" ${options.replace ? 'added or replaced' : 'added'}`;
  // Checked once before anything is made on disk, so a refused first add leaves no directory
  // behind; again under the lock, on the file as it is then.
  check(path, edit(readIfExists(path)), roots, described);
  mkdirSync(dirname(path), { recursive: true });
  return withFileLock(path, () => {
    const text = readIfExists(path);
    const doc = edit(text);
    const config = check(path, doc, roots, described);
    write(path, text, doc);
    return config;
  });
}

/**
 * Removes team `name` from the teams file. Throws NOT_FOUND when the file or the team is not
 * there, INVALID_INPUT when what remains has a problem (every one listed).
 */
export function removeTeam(file: string, name: string, roots: readonly string[]): TeamsConfig {
  const path = resolve(file);
  // Checked before the lock, which would otherwise be made in a directory that may not exist.
  if (!existsSync(path)) throw missingFile(path);
  return withFileLock(path, () => {
    const text = readIfExists(path);
    if (text === null) throw missingFile(path);
    const doc = openDocument(path, text);
    if (!doc.has(name)) throw new TetherError(ErrorCode.NOT_FOUND, `team "${name}" is not in ${path}`);
    doc.delete(name);
    const config = check(path, doc, roots, `with team "${name}" removed`);
    write(path, text, doc);
    return config;
  });
}

/** The teams file being edited, in its own format. */
interface TeamsDocument {
  has(name: string): boolean;
  /** Adds the team last, or replaces it in place. */
  set(name: string, entry: TeamEntry): void;
  delete(name: string): void;
  /** The document as plain data, for parseTeams. */
  value(): unknown;
  text(): string;
}

function openDocument(path: string, text: string | null): TeamsDocument {
  return extname(path).toLowerCase() === '.json' ? jsonDocument(path, text) : yamlDocument(path, text);
}

/** The edited document checked whole, as the daemon will load it; refused with every problem. */
function check(path: string, doc: TeamsDocument, roots: readonly string[], edit: string): TeamsConfig {
  try {
    return parseTeams(doc.value(), roots, path);
  } catch (err) {
    const problems = isTetherError(err) && Array.isArray(err.details?.problems) ? (err.details.problems as string[]) : null;
    if (!problems) throw err;
    const count = problems.length === 1 ? 'one problem' : `${problems.length} problems`;
    throw invalidInput(`the teams file ${path} was not changed: ${edit} it would have ${count}:\n- ${problems.join('\n- ')}`, { problems });
  }
}

/** Writes the edited document; an existing file keeps its mode. */
function write(path: string, before: string | null, doc: TeamsDocument): void {
  // A new file is the owner's alone: it may hold remote teams' tokens.
  const mode = before === null ? 0o600 : statSync(path).mode & 0o777;
  writeFileAtomic(path, doc.text(), mode);
}

/**
 * Edited through yaml's Document API, which keeps comments, key order and styles of what is
 * not edited (a plain parse and dump would drop every comment).
 */
function yamlDocument(path: string, text: string | null): TeamsDocument {
  const doc = text === null ? new Document({ teams: {} }) : parseDocument(text);
  if (doc.errors.length > 0) throw invalidInput(`the teams file ${path} is not valid YAML: ${doc.errors[0]!.message}`);
  // An empty (or comments-only) file: the shape a new one gets.
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) doc.contents = doc.createNode({ teams: {} }) as never;
  const teams = (): YAMLMap | null => {
    if (!isMap(doc.contents)) return null;
    let node = doc.get('teams', true);
    if (node === undefined || (isScalar(node) && node.value === null)) {
      node = new YAMLMap(doc.schema);
      doc.set('teams', node);
    }
    return isMap(node) ? node : null;
  };
  return {
    has: (name) => teams()?.has(name) ?? false,
    set(name, entry) {
      const map = teams();
      // Not a map: nothing to add to; the check of the whole document refuses it, naming why.
      if (!map) return;
      // `teams: {}` stays `{}` in flow style, and every team added to it would be written inline.
      if (map.flow && map.items.length === 0) map.flow = false;
      map.set(name, doc.createNode(entry));
    },
    delete: (name) => void teams()?.delete(name),
    value: () => doc.toJS({ maxAliasCount: 100 }) as unknown,
    text: () => doc.toString(),
  };
}

function jsonDocument(path: string, text: string | null): TeamsDocument {
  let root: unknown;
  try {
    root = text === null ? { teams: {} } : JSON.parse(text);
  } catch (err) {
    throw invalidInput(`the teams file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const teams = (): Record<string, unknown> | null => {
    if (!isObject(root)) return null;
    if (root.teams === undefined || root.teams === null) root.teams = {};
    return isObject(root.teams) ? root.teams : null;
  };
  return {
    has: (name) => {
      const map = teams();
      return map !== null && Object.hasOwn(map, name);
    },
    set(name, entry) {
      const map = teams();
      if (!map || !isObject(root)) return;
      // Rebuilt rather than assigned: in place for a replacement, last for a new team, and a name
      // like "__proto__" becomes a key (which the check refuses) instead of a prototype.
      const entries = Object.entries(map);
      const at = entries.findIndex(([key]) => key === name);
      if (at >= 0) entries[at] = [name, entry];
      else entries.push([name, entry]);
      root.teams = Object.fromEntries(entries);
    },
    delete(name) {
      const map = teams();
      if (map) delete map[name];
    },
    value: () => root,
    text: () => `${JSON.stringify(root, null, 2)}\n`,
  };
}

function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw invalidInput(`the teams file ${path} cannot be read: ${(err as Error).message}`);
  }
}

function missingFile(path: string): TetherError {
  return new TetherError(ErrorCode.NOT_FOUND, `the teams file ${path} does not exist`);
}

/** Flags not given are left out of the file, not written as empty values. */
function withoutUndefined(entry: TeamEntry): TeamEntry {
  return Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== undefined)) as TeamEntry;
}
