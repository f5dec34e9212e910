/**
 * What every store adapter decides the same way, whatever its SQL: which counters `stats()`
 * keeps, when a session is quiet, which call is refused and with what error, how a lease is
 * granted and fenced, how money is stored, how patches merge. The adapters hold the queries
 * (and the locks); the rules live here once, one file per concern.
 */
export * from './admission.js';
export * from './counters.js';
export * from './leases.js';
export * from './sessions.js';
