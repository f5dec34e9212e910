import type { SequencedEvent } from '../broker/api.js';
import { isTerminalTurnEvent } from '../domain/events.js';
import { ErrorCode, TetherError } from '../errors.js';
import { isErrorCode, type HttpClient } from './http.js';
import { eventOf } from './records.js';
import { readSse } from './sse-parser.js';

/**
 * Reading a turn's SSE stream, and picking it up again when the connection breaks: the server
 * numbers each event of a turn (`id:` = 1, 2, 3…), so a reconnect to `/v1/turns/{id}/events`
 * with `Last-Event-ID` continues where the last one stopped, and anything at or below the last
 * seen number is dropped as a repeat. `id: 0` marks an outcome rebuilt from the journal; it is
 * terminal and never a repeat.
 */

export interface RetryPolicy {
  /** Reconnects in a row that may bring no new event before the stream is given up. */
  attempts: number;
  /** First backoff; it doubles per failed attempt up to `maxMs`. */
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseMs: 100, maxMs: 2_000 };

export const STREAM_HEADERS = { accept: 'text/event-stream' } as const;

/** The turn events of one SSE response; a data `{ error }` envelope is thrown as its TetherError. */
export async function* sequencedEvents(response: Response): AsyncGenerator<SequencedEvent> {
  if (!response.body) return;
  for await (const message of readSse(response.body)) {
    const envelope = errorEnvelope(message.data);
    if (envelope) throw envelope;
    const seq = message.id === undefined ? 0 : Number(message.id);
    yield { seq: Number.isSafeInteger(seq) && seq > 0 ? seq : 0, event: eventOf(message.data) };
  }
}

function errorEnvelope(data: string): TetherError | null {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || 'type' in value || !('error' in value)) return null;
  const error = value.error;
  if (typeof error !== 'object' || error === null) return null;
  const code = 'code' in error && isErrorCode(error.code) ? error.code : ErrorCode.INTERNAL;
  const message = 'message' in error && typeof error.message === 'string' ? error.message : 'the daemon reported an error';
  return new TetherError(code, message);
}

/** Events past the last seen seq pass; repeats (a resumed stream replaying) do not. */
export class SeqFilter {
  last: number;

  constructor(afterSeq = 0) {
    this.last = afterSeq;
  }

  admit(item: SequencedEvent): boolean {
    if (item.seq === 0) return true;
    if (item.seq <= this.last) return false;
    this.last = item.seq;
    return true;
  }
}

/**
 * A break worth reconnecting after: the connection or the body failed, or the daemon answered
 * 5xx / was unreachable. A refusal (401, 404, an error event) will not change on a retry.
 */
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof TetherError)) return true;
  const status = err.details?.status;
  if (typeof status === 'number') return status >= 500;
  return err.code === ErrorCode.AGENT_UNAVAILABLE || err.code === ErrorCode.DAEMON_UNREACHABLE;
}

export function backoffMs(failures: number, retry: RetryPolicy): number {
  return Math.min(retry.maxMs, retry.baseMs * 2 ** Math.max(0, failures - 1));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * A turn's events from `/v1/turns/{id}/events` after `filter.last`, reconnecting with
 * `Last-Event-ID` when the stream breaks, until the terminal event. Ends quietly when `signal`
 * aborts; throws the daemon's refusal, or AGENT_UNAVAILABLE once `retry.attempts` reconnects in a
 * row brought nothing new.
 */
export async function* followTurn(
  http: HttpClient,
  turnId: string,
  options: { filter: SeqFilter; signal?: AbortSignal; retry?: RetryPolicy; alreadyFailed?: number },
): AsyncGenerator<SequencedEvent> {
  const { filter, signal } = options;
  const retry = options.retry ?? DEFAULT_RETRY;
  let failures = options.alreadyFailed ?? 0;
  let lastError: unknown = null;
  for (;;) {
    if (failures > 0) {
      if (failures > retry.attempts) throw lostStream(http, turnId, failures - 1, lastError);
      await sleep(backoffMs(failures, retry), signal);
    }
    if (signal?.aborted) return;
    let progressed = false;
    try {
      const response = await http.request('GET', `/v1/turns/${encodeURIComponent(turnId)}/events`, {
        headers: { ...STREAM_HEADERS, ...(filter.last > 0 ? { 'last-event-id': String(filter.last) } : {}) },
        ...(signal ? { signal } : {}),
      });
      for await (const item of sequencedEvents(response)) {
        if (!filter.admit(item)) continue;
        progressed = true;
        yield item;
        if (isTerminalTurnEvent(item.event)) return;
      }
      lastError = new Error('the stream ended before the turn did');
    } catch (err) {
      if (signal?.aborted) return;
      if (!isRetryable(err)) throw err;
      lastError = err;
    }
    failures = progressed ? 1 : failures + 1;
  }
}

function lostStream(http: HttpClient, turnId: string, attempts: number, cause: unknown): TetherError {
  const why = cause instanceof Error ? `: ${cause.message}` : '';
  return new TetherError(
    ErrorCode.AGENT_UNAVAILABLE,
    `lost the event stream of turn ${turnId} from the Tether daemon at ${http.base} after ${attempts} reconnect attempts${why}; the turn may still be running on the daemon`,
    { cause },
  );
}
