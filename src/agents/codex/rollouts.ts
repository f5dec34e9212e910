import { closeSync, copyFileSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { TranscriptEntry, TranscriptMirror } from '../../store/ports/transcripts.js';

/*
 * Codex's rollouts (its JSONL record of a thread, under CODEX_HOME/sessions) mirrored into
 * Tether's store line by line, as Claude's transcripts are: a wiped CODEX_HOME, another node or
 * an imported bundle writes the rollout back from the store and resumes the thread from it.
 *
 * A rollout is only ever appended to, so a line is known by its index: each is stored as
 * `{ type: 'codex.rollout', uuid: '<index>', line }`, and the store's uuid check makes a line
 * mirrored twice (a retry, a second process) land once.
 */

const ENTRY_TYPE = 'codex.rollout';
/** Transcripts are listed by project; Codex's all go under this one. */
const PROJECT_KEY = 'codex';

/** How much of a rollout is in the store: its first `lines` lines, `bytes` long. */
export interface RolloutCursor {
  lines: number;
  bytes: number;
}

export const ROLLOUT_START: RolloutCursor = { lines: 0, bytes: 0 };

/** The complete lines of a rollout file (a torn last line, a crash mid-write, is left for later). */
function readLines(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  lines.pop();
  return lines;
}

/**
 * The complete lines after `from.bytes`, read from there only: a turn adds a few lines to a
 * rollout that may be megabytes long. A file shorter than the cursor (rewritten) is read whole.
 */
function linesAfter(path: string, from: RolloutCursor): { lines: string[]; at: RolloutCursor } {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < from.bytes) return linesAfter(path, ROLLOUT_START);
    const buffer = Buffer.alloc(size - from.bytes);
    let read = 0;
    while (read < buffer.length) {
      const n = readSync(fd, buffer, read, buffer.length - read, from.bytes + read);
      if (n === 0) break;
      read += n;
    }
    const complete = buffer.subarray(0, buffer.lastIndexOf(0x0a, read - 1) + 1);
    const lines = complete.length > 0 ? complete.toString('utf8').split('\n').slice(0, -1) : [];
    return { lines, at: from };
  } finally {
    closeSync(fd);
  }
}

/** Where the first `count` of a rollout's `lines` end. */
function cursorOf(lines: readonly string[], count: number): RolloutCursor {
  const first = lines.slice(0, count);
  return { lines: first.length, bytes: first.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0) };
}

/** The rollout file of a thread under a CODEX_HOME, or null (sessions/YYYY/MM/DD/rollout-…-<id>.jsonl). */
export function findRollout(home: string, threadId: string): string | null {
  const suffix = `-${threadId}.jsonl`;
  const walk = (dir: string, depth: number): string | null => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return null;
    }
    for (const name of names.sort().reverse()) {
      if (depth === 0) {
        if (name.startsWith('rollout-') && name.endsWith(suffix)) return join(dir, name);
      } else {
        const found = walk(join(dir, name), depth - 1);
        if (found) return found;
      }
    }
    return null;
  };
  return walk(join(home, 'sessions'), 3);
}

/** The rollouts under a CODEX_HOME, with their threads' ids (the uuid that ends each file name). */
export function listRollouts(home: string): Array<{ threadId: string; path: string }> {
  const found: Array<{ threadId: string; path: string }> = [];
  const walk = (dir: string, depth: number): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (depth > 0) walk(join(dir, name), depth - 1);
      else if (name.startsWith('rollout-') && name.endsWith('.jsonl') && name.length > 42) found.push({ threadId: name.slice(-42, -6), path: join(dir, name) });
    }
  };
  walk(join(home, 'sessions'), 3);
  return found;
}

export class RolloutMirror {
  readonly #archive: TranscriptMirror | null;

  constructor(archive: TranscriptMirror | null) {
    this.#archive = archive;
  }

  /**
   * Mirrors the rollout's lines after `from`; returns how far it is mirrored now. A
   * fork's rollout refers to its source's (Codex keeps a fork's history by reference): the first
   * time, the rollouts it refers to are copied under its own transcript (subpaths `lineage/<id>`),
   * so the fork resumes anywhere, exported or with its source deleted.
   */
  async sync(threadId: string, path: string, from: RolloutCursor): Promise<RolloutCursor> {
    if (!this.#archive || !existsSync(path)) return from;
    const { lines, at } = linesAfter(path, from);
    if (lines.length === 0) return at;
    if (at.lines === 0) await this.#keepLineage(threadId, lines[0], homeOf(path));
    await this.#archive.appendTranscript({ agentSessionId: threadId }, PROJECT_KEY, entriesOf(lines, at.lines));
    return { lines: at.lines + lines.length, bytes: at.bytes + lines.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0) };
  }

  /**
   * Adds to the store the lines of a local rollout it lacks (a turn a crash cut off before they
   * were mirrored), when the local rollout extends the store's: not when the thread has gone on
   * elsewhere since, and the two differ from some line on.
   */
  async reconcile(threadId: string, path: string): Promise<void> {
    if (!this.#archive) return;
    const stored = (await this.#archive.loadTranscript({ agentSessionId: threadId })) ?? [];
    await this.#extend(threadId, path, readLines(path), stored);
  }

  /**
   * Without the store's mirror, Codex's files are the only copy: the rollouts of a process home
   * about to go are kept in its tenant's `kept/` directory, from where `restore` takes them.
   */
  keep(home: string): void {
    if (this.#archive) return;
    const kept = keptDir(home);
    for (const { path } of listRollouts(home)) copyInto(path, join(kept, relative(home, path)));
  }

  /**
   * Makes the thread resumable under `home` (a process's own, which has not loaded it): its
   * rollout written back from the store, with the rollouts a fork refers to, or, without the
   * mirror, copied from the kept ones. A local rollout already there is kept when it holds all the
   * store has (what it has more is mirrored). Returns its path and how far the store holds it, or
   * null when the thread is nowhere.
   */
  async restore(threadId: string, home: string): Promise<{ path: string; mirrored: RolloutCursor } | null> {
    if (!this.#archive) {
      const path = findRollout(home, threadId) ?? copyFromKept(home, threadId);
      return path ? { path, mirrored: ROLLOUT_START } : null;
    }
    const stored = (await this.#archive.loadTranscript({ agentSessionId: threadId })) ?? [];
    const local = findRollout(home, threadId);
    if (local) {
      const extended = await this.#extend(threadId, local, readLines(local), stored);
      if (extended) return { path: local, mirrored: extended };
    }
    if (stored.length === 0) return null;
    // No local rollout, or one behind or apart from the store's (the thread went on elsewhere):
    // the store's lines are the whole of it, as rollouts are only appended to.
    const path = local ?? rolloutPathFor(home, threadId, stored);
    const written = writeRollout(path, stored);
    for (const subpath of await this.#archive.listTranscriptSubpaths(threadId)) {
      const ancestor = subpath.startsWith(LINEAGE) ? subpath.slice(LINEAGE.length) : null;
      if (!ancestor || findRollout(home, ancestor)) continue;
      const lines = await this.#archive.loadTranscript({ agentSessionId: threadId, subpath });
      if (lines && lines.length > 0) writeRollout(rolloutPathFor(home, ancestor, lines), lines);
    }
    return { path, mirrored: written };
  }

  /**
   * Mirrors the lines of a local rollout past the store's when it holds all of the store's (its
   * line where the store's end is the same); returns where the mirror ends then, or null when the
   * local rollout is shorter or apart.
   */
  async #extend(threadId: string, path: string, local: string[], stored: TranscriptEntry[]): Promise<RolloutCursor | null> {
    if (local.length < stored.length) return null;
    if (stored.length > 0 && !sameLine(stored.at(-1)!.line, local[stored.length - 1]!)) return null;
    return this.sync(threadId, path, cursorOf(local, stored.length));
  }

  /** Copies the rollouts a fork refers to (its source's, and theirs in turn) from `home` under the fork. */
  async #keepLineage(threadId: string, firstLine: string | undefined, home: string): Promise<void> {
    const seen = new Set<string>([threadId]);
    for (let source = forkedFrom(firstLine); source !== null && !seen.has(source); ) {
      seen.add(source);
      const path = findRollout(home, source);
      if (!path) return;
      const lines = readLines(path);
      await this.#archive!.appendTranscript({ agentSessionId: threadId, subpath: `${LINEAGE}${source}` }, PROJECT_KEY, entriesOf(lines, 0));
      source = forkedFrom(lines[0]);
    }
  }
}

/** Whether a stored line is this local one: Codex numbers and stamps every line it writes. */
function sameLine(stored: unknown, local: string): boolean {
  const a = stored as { ordinal?: unknown; timestamp?: unknown; type?: unknown } | null;
  const b = JSON.parse(local) as { ordinal?: unknown; timestamp?: unknown; type?: unknown };
  return a !== null && a.ordinal === b.ordinal && a.timestamp === b.timestamp && a.type === b.type;
}

/** Where the rollouts of a tenant's gone process homes are kept when the store mirrors none. */
function keptDir(home: string): string {
  return join(home, '..', 'kept');
}

/** Subpaths of a fork's transcript holding the rollouts it refers to. */
const LINEAGE = 'lineage/';

/** Stored entries of `lines`, the first of which is line `first` of its rollout. */
function entriesOf(lines: string[], first: number): TranscriptEntry[] {
  return lines.map((line, i) => ({ type: ENTRY_TYPE, uuid: String(first + i), line: JSON.parse(line) as unknown }));
}

/** The thread a rollout was forked from, read from its first line (`session_meta`), or null. */
function forkedFrom(firstLine: string | undefined): string | null {
  if (!firstLine) return null;
  try {
    const meta = JSON.parse(firstLine) as { type?: string; payload?: { forked_from_id?: unknown } };
    return meta.type === 'session_meta' && typeof meta.payload?.forked_from_id === 'string' ? meta.payload.forked_from_id : null;
  } catch {
    return null;
  }
}

/** The CODEX_HOME a rollout lies in (…/sessions/YYYY/MM/DD/file). */
function homeOf(path: string): string {
  return join(path, '..', '..', '..', '..', '..');
}

/** Writes a rollout from stored lines; returns where it ends. */
function writeRollout(path: string, stored: TranscriptEntry[]): RolloutCursor {
  const text = stored.map((e) => `${JSON.stringify(e.line)}\n`).join('');
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text, { mode: 0o600 });
  return { lines: stored.length, bytes: Buffer.byteLength(text) };
}

function copyInto(from: string, to: string): void {
  mkdirSync(join(to, '..'), { recursive: true });
  copyFileSync(from, to);
}

/** The kept rollout of a thread, copied into `home`; its path there, or null when none is kept. */
function copyFromKept(home: string, threadId: string): string | null {
  const kept = findRollout(keptDir(home), threadId);
  if (!kept) return null;
  const path = join(home, relative(keptDir(home), kept));
  copyInto(kept, path);
  return path;
}

/** Where Codex itself would have put the rollout: by the day the thread began. */
function rolloutPathFor(home: string, threadId: string, stored: TranscriptEntry[]): string {
  const first = stored[0]?.line as { timestamp?: unknown } | undefined;
  const at = new Date(typeof first?.timestamp === 'string' ? first.timestamp : Date.now());
  const day = Number.isNaN(at.getTime()) ? new Date() : at;
  const [date, time] = day.toISOString().split('T') as [string, string];
  const [y, m, d] = date.split('-') as [string, string, string];
  const stamp = `${date}T${time.slice(0, 8).replace(/:/g, '-')}`;
  return join(home, 'sessions', y, m, d, `rollout-${stamp}-${threadId}.jsonl`);
}
