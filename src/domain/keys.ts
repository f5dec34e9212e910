import { invalidInput } from '../errors.js';

export const MAX_KEY_LENGTH = 256;
const TENANT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
// Control characters (C0, DEL, C1), line/paragraph separators, lone surrogates and
// bidi/format controls can all hide what a key is in logs and UIs; none is printable.
const UNPRINTABLE_RE = /[\p{Cc}\p{Cs}\p{Zl}\p{Zp}\u200B-\u200F\u202A-\u202E\u2066-\u2069\uFEFF]/u;

/**
 * A key is the client's name for a conversation (`discord:123`, `team:a->b`):
 * 1–256 printable characters, not blank. Returns the key unchanged or throws INVALID_INPUT.
 */
export function validateKey(key: unknown): string {
  if (typeof key !== 'string') throw invalidInput('key must be a string');
  const length = [...key].length;
  if (length === 0) throw invalidInput('key must not be empty');
  if (length > MAX_KEY_LENGTH) throw invalidInput(`key is ${length} characters long; the limit is ${MAX_KEY_LENGTH}`);
  if (UNPRINTABLE_RE.test(key)) throw invalidInput('key contains a control or invisible character; use printable characters only');
  if (key.trim().length === 0) throw invalidInput('key must not be blank');
  return key;
}

/** A tenant owns keys: 1–64 of letters, digits, `.`, `_`, `-`, starting with a letter or digit. */
export function validateTenant(tenant: unknown): string {
  if (typeof tenant !== 'string' || !TENANT_RE.test(tenant)) {
    throw invalidInput('tenant must be 1-64 characters of letters, digits, ".", "_" or "-"');
  }
  return tenant;
}

/** `user=42` → ['user', '42']; label keys are identifiers, values any printable text up to 256. */
export function parseLabel(pair: string): [string, string] {
  const eq = pair.indexOf('=');
  if (eq <= 0) throw invalidInput(`label "${pair}" must look like name=value`);
  const name = pair.slice(0, eq);
  const value = pair.slice(eq + 1);
  validateLabels({ [name]: value });
  return [name, value];
}

/** A top-level metadata name a filter or an update may use: 1–64 characters, no control character. */
export function isMetaName(name: string): boolean {
  return name.length > 0 && name.length <= 64 && !/\p{Cc}/u.test(name);
}

/** `taskId=T-1` → ['taskId', 'T-1'] (a string value with no control character); null when it is not such a pair. */
export function splitMetaPair(pair: string): [string, string] | null {
  const at = pair.indexOf('=');
  const name = at > 0 ? pair.slice(0, at) : '';
  if (!isMetaName(name) || /\p{Cc}/u.test(pair)) return null;
  return [name, pair.slice(at + 1)];
}

export const LABEL_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$/;

export function validateLabels(labels: unknown): Record<string, string> {
  if (labels === undefined) return {};
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) throw invalidInput('labels must be an object of name: value strings');
  const entries = Object.entries(labels as Record<string, unknown>);
  if (entries.length > 32) throw invalidInput('at most 32 labels per session');
  for (const [name, value] of entries) {
    if (!LABEL_NAME_RE.test(name)) throw invalidInput(`label name "${name}" must be 1-64 of letters, digits, ".", "_", "/", "-"`);
    if (typeof value !== 'string' || [...value].length > 256 || UNPRINTABLE_RE.test(value)) {
      throw invalidInput(`label "${name}" must be a printable string of at most 256 characters`);
    }
  }
  return { ...(labels as Record<string, string>) };
}
