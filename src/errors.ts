/**
 * Typed errors with stable string codes. Every failure a caller can act on is a
 * TetherError; the code is the contract (HTTP status and CLI exit code derive from it).
 */

export const ErrorCode = {
  INVALID_INPUT: 'INVALID_INPUT',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  SESSION_BUSY: 'SESSION_BUSY',
  QUEUE_FULL: 'QUEUE_FULL',
  LIMIT_REACHED: 'LIMIT_REACHED',
  AGENT_FAILED: 'AGENT_FAILED',
  AGENT_UNAVAILABLE: 'AGENT_UNAVAILABLE',
  /** The turn was stopped before it finished (interrupt, shutdown, lost lease, dead process). */
  INTERRUPTED: 'INTERRUPTED',
  /** A fenced write was refused because another holder has taken the lease since. */
  LEASE_LOST: 'LEASE_LOST',
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
  /** An approval was decided (or expired) already: exactly one decision wins. */
  ALREADY_DECIDED: 'ALREADY_DECIDED',
  /** A team ask that would wait on itself (A asks B while B's turn waits on A): refused, not deadlocked. */
  ASK_LOOP: 'ASK_LOOP',
  /**
   * Client mode only: the Tether daemon (`--server`, `TETHER_URL`) could not be reached. Not the
   * agent's fault, so not AGENT_UNAVAILABLE: the remedy is to start the daemon or fix its URL.
   */
  DAEMON_UNREACHABLE: 'DAEMON_UNREACHABLE',
  INTERNAL: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const HTTP_STATUS: Record<ErrorCode, number> = {
  INVALID_INPUT: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  SESSION_BUSY: 409,
  QUEUE_FULL: 429,
  LIMIT_REACHED: 429,
  AGENT_FAILED: 502,
  AGENT_UNAVAILABLE: 503,
  INTERRUPTED: 409,
  LEASE_LOST: 409,
  STORE_UNAVAILABLE: 503,
  ALREADY_DECIDED: 409,
  ASK_LOOP: 409,
  // Never sent by the daemon (it is the one unreachable); a proxy in front of it would say 503.
  DAEMON_UNREACHABLE: 503,
  INTERNAL: 500,
};

/** CLI exit codes: 0 ok · 1 the turn or agent failed · 2 invalid input · 3 busy or full · 4 not found. */
const EXIT_CODE: Record<ErrorCode, number> = {
  INVALID_INPUT: 2,
  UNAUTHORIZED: 2,
  FORBIDDEN: 2,
  NOT_FOUND: 4,
  SESSION_BUSY: 3,
  QUEUE_FULL: 3,
  LIMIT_REACHED: 3,
  AGENT_FAILED: 1,
  AGENT_UNAVAILABLE: 1,
  INTERRUPTED: 1,
  LEASE_LOST: 1,
  STORE_UNAVAILABLE: 1,
  // A conflict with what someone else did first, as busy is.
  ALREADY_DECIDED: 3,
  // Waiting on oneself is a conflict, as busy is.
  ASK_LOOP: 3,
  // Exit 1 as before it had a code of its own: scripts that retry on 1 keep working.
  DAEMON_UNREACHABLE: 1,
  INTERNAL: 1,
};

export class TetherError extends Error {
  override readonly name = 'TetherError';
  readonly code: ErrorCode;
  /** Structured context for logs and API answers; never secrets. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }

  get httpStatus(): number {
    return httpStatusOf(this.code);
  }

  get exitCode(): number {
    return exitCodeOf(this.code);
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function httpStatusOf(code: ErrorCode): number {
  return HTTP_STATUS[code];
}

export function exitCodeOf(code: ErrorCode): number {
  return EXIT_CODE[code];
}

export function isTetherError(err: unknown, code?: ErrorCode): err is TetherError {
  return err instanceof TetherError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into a TetherError, keeping a TetherError as it is. */
export function toTetherError(err: unknown, fallback: ErrorCode = ErrorCode.INTERNAL): TetherError {
  if (err instanceof TetherError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new TetherError(fallback, message, { cause: err });
}

export const invalidInput = (message: string, details?: Record<string, unknown>): TetherError =>
  new TetherError(ErrorCode.INVALID_INPUT, message, details ? { details } : undefined);
