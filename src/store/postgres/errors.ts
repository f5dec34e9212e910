import { TetherError } from '../../errors.js';

/** Where the store connects, for messages: host, port, database and user, never the password. */
export interface PgTarget {
  /** `host:port/database`, e.g. `db.internal:5432/tether`. */
  where: string;
  user: string | null;
  /** The password as given, only to scrub it from any text that might echo it. */
  secret: string | null;
}

/** Reads the URL the way pg will, keeping what a message may show. Unparseable URLs stay unnamed. */
export function describeTarget(url: string): PgTarget {
  try {
    const u = new URL(url);
    const host = decodeURIComponent(u.hostname) || u.searchParams.get('host') || 'localhost';
    const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || '(default database)';
    return {
      where: `${host}:${u.port || '5432'}/${database}`,
      user: u.username ? decodeURIComponent(u.username) : null,
      secret: u.password ? decodeURIComponent(u.password) : null,
    };
  } catch {
    return { where: 'the configured PostgreSQL server', user: null, secret: null };
  }
}

/** SQLSTATEs worth running the whole transaction again for. */
const RETRYABLE = new Set(['40001', '40P01']);

export function isRetryable(err: unknown): boolean {
  return RETRYABLE.has(codeOf(err) ?? '');
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED']);

/** pg reports these as plain Errors without a code. */
const CONNECTION_MESSAGES = /timeout exceeded when trying to connect|Connection terminated|connection timeout|Client has encountered a connection error|Connection closed|SASL|password must be a string/i;

/**
 * Turns a pg or socket failure into a TetherError that says what to check. The message names
 * host, port, database and user, never the password (it is scrubbed from anything echoed).
 */
export function mapPgError(err: unknown, target: PgTarget): unknown {
  if (err instanceof TetherError || !(err instanceof Error)) return err;
  const code = codeOf(err);
  const scrub = (text: string): string => (target.secret ? text.split(target.secret).join('***') : text);
  const detail = scrub(err.message);
  const unavailable = (message: string): TetherError =>
    new TetherError('STORE_UNAVAILABLE', scrub(message), { cause: err, details: { where: target.where, ...(code ? { pgCode: code } : {}) } });
  const at = `PostgreSQL at ${target.where}`;
  const urlHint = 'check the database URL (TETHER_DATABASE_URL)';

  if (code && SOCKET_CODES.has(code)) {
    return unavailable(`cannot reach ${at} (${code}): check that the server is running and accepts TCP connections there, the firewall, and ${urlHint}`);
  }
  if (!code || !/^[0-9A-Z]{5}$/.test(code)) {
    if (CONNECTION_MESSAGES.test(err.message)) {
      return unavailable(`cannot talk to ${at} (${detail}): check that the server is up and reachable, and ${urlHint}`);
    }
    return err;
  }
  switch (code) {
    case '28P01':
    case '28000':
      return unavailable(`${at} refused the login${target.user ? ` of user "${target.user}"` : ''} (${detail}): check the user and password in ${urlHint.replace('check ', '')} and pg_hba.conf`);
    case '3D000':
      return unavailable(`${at}: the database does not exist (${detail}); create it or ${urlHint}`);
    case '53300':
      return unavailable(`${at} has too many connections (${detail}): lower the pool size of each Tether node or raise max_connections`);
    case '53100':
      return unavailable(`${at} cannot write: its disk is full (${detail}); free some space and retry`);
    case '53200':
      return unavailable(`${at} is out of memory (${detail}); retry later`);
    case '25006':
      return unavailable(`${at} is read-only (${detail}): Tether must write to the primary, not a standby; ${urlHint}`);
    case '57P01':
    case '57P02':
    case '57P03':
      return unavailable(`${at} is shutting down or starting up (${detail}); retry shortly`);
    case '57014':
      return unavailable(`${at} cancelled the statement (${detail}): a statement_timeout or an operator stopped it; retry`);
    case '55P03':
      return unavailable(`${at}: a lock could not be taken in time (${detail}); retry`);
    case '40001':
    case '40P01':
      return unavailable(`${at}: the transaction kept conflicting with concurrent ones (${detail}) and gave up after several attempts; retry`);
    case '42501':
      return unavailable(`${at}: permission denied (${detail}); the user needs to create and write tables in its schema`);
    case '22021':
    case '22P05':
      // PostgreSQL text cannot hold NUL characters (or bytes invalid in the server encoding).
      return new TetherError('INVALID_INPUT', `PostgreSQL cannot store this text (${detail}); remove NUL characters`, { cause: err });
  }
  if (code.startsWith('08')) return unavailable(`lost the connection to ${at} (${detail}); check that the server is up and reachable`);
  return new TetherError('INTERNAL', `PostgreSQL error ${code}: ${detail}`, { cause: err });
}
