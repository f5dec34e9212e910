/** The parts of the API's JSON the dashboard shows (the Session and Turn JSON of the README). */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number;
}

export interface Session {
  id: string;
  key: string;
  backend: string;
  status: string;
  generation: number;
  agentSessionId: string | null;
  config: { model?: string; cwd: string; permissionMode?: string };
  labels: Record<string, string>;
  metadata?: Record<string, unknown>;
  turns: number;
  queued: number;
  usage: Usage;
  context: { tokens: number; window: number; ratio: number };
  createdAt: string;
  lastActiveAt: string;
  expiresAt: string | null;
}

export interface Turn {
  id: string;
  seq: number;
  status: string;
  prompt: string;
  text: string | null;
  error: { code: string; message: string } | null;
  usage: Usage | null;
  createdAt: string;
  durationMs: number | null;
}

export const tokensOf = (u: Usage): number => u.inputTokens + u.outputTokens + u.cacheReadTokens + u.cacheWriteTokens;
export const percent = (ratio: number): string => `${Math.round(ratio * 100)}%`;
export const usd = (n: number): string => `$${n.toFixed(n < 1 ? 4 : 2)}`;
export const when = (iso: string): string => new Date(iso).toLocaleString();
