import type { z } from 'zod';
import { hideUrlPasswords } from './lib/url-password.js';

/**
 * Plain words for a refused setting: which setting, which variable, what value was given and
 * what is expected, e.g. `TETHER_PORT="abc" (setting port): expected an integer from 0 to 65535`.
 * A person reading a start-up error should not have to decode zod's vocabulary ("expected
 * number, received NaN") nor know which variable feeds which setting.
 */

/** What a regex-checked string must look like, since a pattern says nothing to most readers. */
const PATTERN_WORDS: Record<string, string> = {
  tenant: '1-64 letters, digits, ".", "_" or "-", starting with a letter or digit',
  databaseSchema: 'a PostgreSQL schema name: 1-63 of a-z, 0-9 and "_", not starting with a digit',
};

const FREE_FORM_WORDS: Record<string, string> = {
  labelQuotas: 'label=N pairs separated by commas, N at least 1 (e.g. user=5,channel=2)',
  databaseUrl: 'a PostgreSQL URL such as postgres://user:password@host:5432/database',
  metricsToken: 'a token of 16 to 1,000 characters without whitespace, not one of the API tokens',
};

/** Settings whose value is never repeated in an error (secrets), or repeated masked. */
const SECRET = new Set(['tokens', 'metricsToken']);

interface Problem {
  setting: string;
  /** The variables that set it, first one first. */
  variables: readonly string[];
  /** The variable the value came from, or null when it came from an option or flag. */
  fromVariable: string | null;
  value: unknown;
}

export function describeProblem(problem: Problem, issue: z.core.$ZodIssue, schema: z.ZodType | undefined): string {
  const { setting, variables, fromVariable } = problem;
  if (issue.code === 'unrecognized_keys') return `unknown setting ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  const shown = showValue(setting, problem.value);
  const names = fromVariable !== null ? `${fromVariable}=${shown} (setting ${setting})` : `${setting}=${shown}${variables.length > 0 ? ` (or ${variables.join(' or ')})` : ''}`;
  return `${names}: expected ${expectation(setting, issue, schema)}`;
}

function showValue(setting: string, value: unknown): string {
  if (SECRET.has(setting.split('.')[0] ?? '')) return '[hidden]';
  let text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  // A URL may carry a password: never echo it.
  text = hideUrlPasswords(text);
  if (text.length > 80) text = `${text.slice(0, 77)}...`;
  return JSON.stringify(text);
}

function expectation(setting: string, issue: z.core.$ZodIssue, schema: z.ZodType | undefined): string {
  const key = setting.split('.')[0] ?? setting;
  const free = FREE_FORM_WORDS[key];
  if (free) return free;
  const inner = schema ? unwrapSchema(schema) : undefined;
  if (inner) {
    const words = wordsOf(key, inner);
    if (words) return words;
  }
  // Anything the schema walk does not cover keeps zod's words, lower-cased, rather than none.
  return issue.message.replace(/^Invalid input: expected /, '').replace(/^\w/, (c) => c.toLowerCase());
}

/** Through defaults, optionals and transforms to the type that checks the value. */
export function unwrapSchema(schema: z.ZodType): z.ZodType {
  let s: z.ZodType = schema;
  for (let i = 0; i < 10; i++) {
    const def = s.def as { type: string; innerType?: z.ZodType; in?: z.ZodType };
    if ((def.type === 'default' || def.type === 'optional' || def.type === 'prefault' || def.type === 'nullable') && def.innerType) s = def.innerType;
    else if (def.type === 'pipe' && def.in) s = def.in;
    else break;
  }
  return s;
}

function wordsOf(key: string, s: z.ZodType): string | null {
  const def = s.def as { type: string; options?: z.ZodType[] };
  if (def.type === 'number') {
    const n = s as z.ZodNumber;
    const min = n.minValue;
    const max = n.maxValue;
    const kind = n.isInt ? 'an integer' : 'a number';
    const exclusiveMin = (n.def.checks ?? []).some((c) => (c._zod.def as { check: string; inclusive?: boolean }).check === 'greater_than' && (c._zod.def as { inclusive?: boolean }).inclusive === false);
    if (min !== null && max !== null && Number.isFinite(min) && Number.isFinite(max) && Math.abs(max) < Number.MAX_SAFE_INTEGER) {
      return exclusiveMin ? `${kind} above ${min} and at most ${max}` : `${kind} from ${fmt(min)} to ${fmt(max)}`;
    }
    return kind;
  }
  if (def.type === 'enum') return `one of ${(s as z.ZodEnum).options.map(String).join(', ')}`;
  if (def.type === 'union' && def.options?.some((o) => (o.def as { type: string }).type === 'boolean')) return 'true or false (1/0 and yes/no also work)';
  if (def.type === 'string') {
    const words = PATTERN_WORDS[key];
    if (words) return words;
    const str = s as z.ZodString;
    return str.maxLength !== null ? `a non-empty text of at most ${fmt(str.maxLength)} characters` : 'a non-empty text';
  }
  return null;
}

const fmt = (n: number): string => n.toLocaleString('en-US');
