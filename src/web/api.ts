import { createParser } from 'eventsource-parser';

/*
 * The dashboard's only way to the daemon: the same HTTP API as every client, with the token the
 * person signed in with. The token lives in sessionStorage (gone with the tab), never in a URL.
 */

const TOKEN_KEY = 'tether.token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function signIn(value: string | null): void {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const t = token();
  return { ...extra, ...(t ? { authorization: `Bearer ${t}` } : {}) };
}

async function failure(res: Response): Promise<ApiError> {
  const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  return new ApiError(res.status, body?.error?.code ?? 'HTTP_' + res.status, body?.error?.message ?? res.statusText);
}

/** GET or POST a JSON route of `/v1`. Throws ApiError with the API's code and message. */
export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const res = await fetch(`/v1${path}`, {
    method: init.method ?? 'GET',
    headers: headers(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

export interface StreamEvent {
  type: string;
  [field: string]: unknown;
}

/**
 * Runs a turn (a message, or a regenerate or continue) and calls `onEvent` with each of its events
 * as it streams (SSE over a fetch, which, unlike EventSource, can carry the Authorization
 * header). Resolves at the end.
 */
export async function streamTurn(key: string, request: { prompt: string } | 'regenerate' | 'continue', onEvent: (event: StreamEvent) => void): Promise<void> {
  const route = typeof request === 'string' ? request : 'messages';
  const res = await fetch(`/v1/sessions/${encodeURIComponent(key)}/${route}`, {
    method: 'POST',
    headers: headers({ 'content-type': 'application/json', accept: 'text/event-stream' }),
    body: JSON.stringify(typeof request === 'string' ? {} : request),
  });
  if (!res.ok || !res.body) throw await failure(res);
  const parser = createParser({
    onEvent: (message) => {
      const data = JSON.parse(message.data) as StreamEvent;
      onEvent(message.event === 'error' ? { ...data, type: 'error' } : data);
    },
  });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    parser.feed(value);
  }
}

export const keyPath = (key: string): string => `/sessions/${encodeURIComponent(key)}`;

/** Downloads `data` as a file (an export), without a server round trip or a URL with secrets. */
export function download(name: string, data: unknown): void {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
