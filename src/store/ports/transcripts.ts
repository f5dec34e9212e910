/**
 * The transcript mirror: Tether's own copy of each agent conversation, so that a wiped agent
 * home, another machine or the agent's own retention sweep loses nothing. The store implements
 * it; the Claude backend adapts the Agent SDK's SessionStore onto it
 * (src/agents/claude/transcripts.ts).
 */
export interface TranscriptMirror {
  /**
   * Appends entries to a transcript in the order given. An entry whose `uuid` the transcript
   * already holds is skipped, so retried and replayed batches never duplicate; entries without a
   * `uuid` are always appended. `projectKey` is recorded (last write wins) for `listTranscripts`.
   */
  appendTranscript(ref: TranscriptRef, projectKey: string, entries: TranscriptEntry[]): Promise<void>;

  /** The transcript's entries in append order; null when nothing was ever appended to it. */
  loadTranscript(ref: TranscriptRef): Promise<TranscriptEntry[] | null>;

  /** Main transcripts (no subpath) last written under `projectKey`, with that time (store clock, ms). */
  listTranscripts(projectKey: string): Promise<Array<{ agentSessionId: string; mtime: number }>>;

  /** Subpaths (subagent transcripts) stored under a conversation, sorted (byte order). */
  listTranscriptSubpaths(agentSessionId: string): Promise<string[]>;

  /**
   * Removes a transcript; a ref without `subpath` removes the main transcript and every subpath
   * under it. Returns how many entries went. (`deleteKey` also removes the transcripts of the
   * key's sessions.)
   */
  deleteTranscript(ref: TranscriptRef): Promise<number>;
}

/** Which transcript: a conversation's main one, or a subagent's under `subpath`. */
export interface TranscriptRef {
  agentSessionId: string;
  /** Absent (or '') for the main transcript. */
  subpath?: string;
}

/** One line of an agent's transcript: opaque JSON, kept deep-equal, never interpreted. */
export interface TranscriptEntry {
  type: string;
  uuid?: string;
  timestamp?: string;
  [field: string]: unknown;
}
