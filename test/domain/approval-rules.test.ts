import { describe, expect, it } from 'vitest';
import { ruleFor } from '../../src/domain/approval-rules.js';

const cwd = '/srv/app';
const call = (tool: string, input: Record<string, unknown>) => ({ tool, input });

describe('approval rules (Claude Code rule syntax)', () => {
  it('a bare tool name takes every call of it; an MCP server name every tool of the server', () => {
    expect(ruleFor({ allow: ['Write'] }, call('Write', { file_path: '/anywhere' }), cwd)).toEqual({ rule: 'Write', decision: 'allow' });
    expect(ruleFor({ allow: ['Write'] }, call('Edit', { file_path: '/anywhere' }), cwd)).toBeNull();
    expect(ruleFor({ allow: ['mcp__github'] }, call('mcp__github__create_issue', {}), cwd)?.decision).toBe('allow');
    expect(ruleFor({ allow: ['mcp__github'] }, call('mcp__githubby__x', {}), cwd)).toBeNull();
  });

  it('Bash: an exact command, or a prefix with :*', () => {
    const rules = { allow: ['Bash(git status)', 'Bash(npm test:*)'] };
    expect(ruleFor(rules, call('Bash', { command: 'git status' }), cwd)?.rule).toBe('Bash(git status)');
    expect(ruleFor(rules, call('Bash', { command: 'git status --short' }), cwd)).toBeNull();
    expect(ruleFor(rules, call('Bash', { command: 'npm test -- --watch' }), cwd)?.rule).toBe('Bash(npm test:*)');
    expect(ruleFor(rules, call('Bash', { command: 'rm -rf /' }), cwd)).toBeNull();
  });

  it('file tools: globs relative to the session cwd, or absolute; ** crosses directories, * does not', () => {
    const rules = { allow: ['Write(src/**)', 'Edit(/etc/app/*.conf)'] };
    expect(ruleFor(rules, call('Write', { file_path: '/srv/app/src/a/b.ts' }), cwd)?.decision).toBe('allow');
    expect(ruleFor(rules, call('Write', { file_path: 'src/c.ts' }), cwd)?.decision).toBe('allow');
    expect(ruleFor(rules, call('Write', { file_path: '/srv/app/test/c.ts' }), cwd)).toBeNull();
    expect(ruleFor(rules, call('Write', { file_path: '/srv/app/src/../secrets' }), cwd)).toBeNull();
    expect(ruleFor(rules, call('Edit', { file_path: '/etc/app/main.conf' }), cwd)?.decision).toBe('allow');
    expect(ruleFor(rules, call('Edit', { file_path: '/etc/app/sub/main.conf' }), cwd)).toBeNull();
  });

  it('WebFetch by domain; deny rules win over allow rules', () => {
    const rules = { allow: ['WebFetch(domain:docs.example.com)', 'Bash'], deny: ['Bash(rm:*)'] };
    expect(ruleFor(rules, call('WebFetch', { url: 'https://docs.example.com/x' }), cwd)?.decision).toBe('allow');
    expect(ruleFor(rules, call('WebFetch', { url: 'https://evil.example.com/x' }), cwd)).toBeNull();
    expect(ruleFor(rules, call('Bash', { command: 'rm -rf build' }), cwd)).toEqual({ rule: 'Bash(rm:*)', decision: 'deny' });
    expect(ruleFor(rules, call('Bash', { command: 'ls' }), cwd)).toEqual({ rule: 'Bash', decision: 'allow' });
    expect(ruleFor(undefined, call('Bash', { command: 'ls' }), cwd)).toBeNull();
  });
});
