import type { BackendName, CloseReason, ContextInfo, Labels, Metadata, SessionConfig, SessionRecord, TurnError, TurnStatus, Usage } from '../../domain/types.js';
import type { TranscriptEntry } from './transcripts.js';
import type { OnLimit } from './turns.js';

/** Changes to a key's sessions besides turns: close, delete, update, and copies (fork, import). */
export interface SessionChanges {
  /**
   * Closes the key's live session with `reason` (status `closed`, or `expired` for that reason);
   * throws SESSION_BUSY while a turn of it is running or queued. Null when the key has no live
   * session.
   */
  closeSession(tenant: string, key: string, reason: CloseReason): Promise<SessionRecord | null>;

  /**
   * Removes every session and turn of the key. Throws SESSION_BUSY while a turn of it runs or
   * waits. Returns how many sessions were removed (0: the key was unknown).
   */
  deleteKey(tenant: string, key: string): Promise<number>;

  /**
   * Changes the key's live session for its next turns: config fields given (model, permission
   * mode…) replace the current ones; labels and metadata are merged (a null value removes a
   * name). Allowed while a turn runs. Throws NOT_FOUND when the key has no live session, and
   * LIMIT_REACHED when new labels would pass a quota in `labelQuotas`.
   */
  updateSession(tenant: string, key: string, patch: SessionPatch): Promise<SessionRecord>;

  /**
   * Creates a live session from a copy (a fork, or an imported bundle): the given conversation,
   * config, labels, metadata, usage and context, and its ended turns as history. The key must
   * have no live session (INVALID_INPUT) unless `replace`, which closes it as `reset` first
   * (SESSION_BUSY while it has a turn running or queued). The cap and label quotas apply as for a
   * new session. Turns are renumbered after the key's earlier generations. `transcripts` are
   * appended to the mirror (as `appendTranscript` would, project key `import`) in the same
   * transaction: a refused import writes none of them.
   */
  importSession(input: ImportSessionInput): Promise<{ session: SessionRecord; closed: SessionRecord[] }>;
}

export interface SessionPatch {
  /** A null value clears the setting. */
  config?: { [K in 'model' | 'permissionMode' | 'appendSystemPrompt' | 'maxTurns']?: SessionConfig[K] | null };
  labels?: Record<string, string | null>;
  metadata?: Record<string, unknown>;
  labelQuotas?: Record<string, number>;
}

/** An ended turn carried into an imported or forked session. */
export interface ImportedTurn {
  prompt: string;
  status: Extract<TurnStatus, 'succeeded' | 'failed' | 'interrupted'>;
  text: string | null;
  error: TurnError | null;
  usage: Usage | null;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
}

/** A transcript carried into an imported session: its main one (no subpath) or a subagent's. */
export interface ImportedTranscript {
  subpath?: string;
  entries: TranscriptEntry[];
}

export interface ImportSessionInput {
  tenant: string;
  key: string;
  newSessionId: string;
  backend: BackendName;
  agentSessionId: string | null;
  config: SessionConfig;
  labels: Labels;
  metadata: Metadata;
  usage: Usage;
  context: ContextInfo;
  turns: ImportedTurn[];
  /** The conversation's transcripts carried with the copy, under `agentSessionId`. */
  transcripts?: ImportedTranscript[];
  replace: boolean;
  maxSessions: number;
  onLimit: OnLimit;
  labelQuotas?: Record<string, number>;
  idleTimeoutMs: number;
}
