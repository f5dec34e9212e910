import { isAbsolute, resolve } from 'node:path';

/**
 * A session's rules for the tool calls its agent would ask a person about, decided without one
 * (and journaled as decided by `rule`). Claude Code's own rule syntax: `Tool` (every call of it),
 * `Bash(npm test)` (that command), `Bash(git status:*)` (commands starting so),
 * `Write(src/**)` (file tools: paths by glob, relative to the session's cwd unless absolute),
 * `WebFetch(domain:example.com)`, `mcp__server` (every tool of an MCP server).
 */
export interface ApprovalRules {
  allow?: string[];
  deny?: string[];
}

/** `Tool` or `Tool(specifier)`; what `approvalRules` accepts. */
export const RULE_PATTERN = /^([A-Za-z][A-Za-z0-9_-]*)(?:\((.+)\))?$/s;

/** The tools whose specifier is a path, and where their input has it. */
const PATH_FIELDS: Record<string, string> = {
  Read: 'file_path',
  Write: 'file_path',
  Edit: 'file_path',
  MultiEdit: 'file_path',
  NotebookEdit: 'notebook_path',
  Glob: 'path',
  Grep: 'path',
};

/** The rule that decides a call (a deny rule before any allow rule), or null: a person decides. */
export function ruleFor(
  rules: ApprovalRules | undefined,
  call: { tool: string; input: Record<string, unknown> },
  cwd: string,
): { rule: string; decision: 'allow' | 'deny' } | null {
  for (const decision of ['deny', 'allow'] as const) {
    const rule = rules?.[decision]?.find((r) => matches(r, call, cwd));
    if (rule !== undefined) return { rule, decision };
  }
  return null;
}

function matches(rule: string, call: { tool: string; input: Record<string, unknown> }, cwd: string): boolean {
  const parsed = RULE_PATTERN.exec(rule);
  if (!parsed) return false;
  const [, tool, specifier] = parsed as unknown as [string, string, string | undefined];
  if (specifier === undefined) return call.tool === tool || (tool.startsWith('mcp__') && call.tool.startsWith(`${tool}__`));
  if (call.tool !== tool) return false;
  if (tool === 'Bash') {
    const command = call.input.command;
    if (typeof command !== 'string') return false;
    return specifier.endsWith(':*') ? command.startsWith(specifier.slice(0, -2)) : command === specifier;
  }
  if (tool === 'WebFetch') {
    const url = call.input.url;
    if (typeof url !== 'string' || !specifier.startsWith('domain:')) return false;
    return URL.canParse(url) && new URL(url).hostname === specifier.slice('domain:'.length);
  }
  const field = PATH_FIELDS[tool];
  const path = field ? call.input[field] : undefined;
  if (typeof path !== 'string') return false;
  const pattern = isAbsolute(specifier) ? specifier : resolve(cwd, specifier);
  return globRegExp(pattern).test(resolve(cwd, path));
}

/** `**` any depth, `*` and `?` within one path segment; everything else literally. */
function globRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      source += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}
