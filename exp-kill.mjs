import { query } from '@anthropic-ai/claude-agent-sdk';
import { startMockAnthropic, mockAgentEnv } from './dist/testing/mock-anthropic.js';
import { findBundledClaude } from './dist/agents/claude/preflight.js';
import { AsyncQueue } from './dist/lib/async-queue.js';
import { existsSync } from 'node:fs';
const mock = await startMockAnthropic();
const env = { ...process.env, ...mockAgentEnv(mock), HOME: '/tmp/exp/home', CLAUDE_CONFIG_DIR: '/tmp/exp/home/.claude' };
const target = '/tmp/exp/cwd/out-' + Date.now() + '.txt';
mock.enqueue({ text: 'writing', toolUse: { name: 'Write', input: { file_path: target, content: 'hello' } } }, { text: 'done writing' }, {text: 'third'});
const user = (t) => ({ type: 'user', message: { role: 'user', content: t }, parent_tool_use_id: null, session_id: '' });
let phase = 1;
const hooks = { PreToolUse: [{ hooks: [async (input) => { console.log('PreToolUse', phase, input.tool_use_id); return phase === 2 ? { hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'allow' } } : {}; }] }] };
let onAsk;
const canUseTool = (name, input, opts) => { console.log('canUseTool', phase, opts.toolUseID); onAsk?.(); return new Promise(() => {}); };
async function run(resume, prompt) {
  const q = new AsyncQueue();
  if (prompt !== null) q.push(user(prompt));
  const it = query({ prompt: q, options: { cwd: '/tmp/exp/cwd', env, pathToClaudeCodeExecutable: findBundledClaude(), hooks, canUseTool, ...(resume ? { resume } : {}) } });
  let sid = null;
  onAsk = () => setTimeout(() => { console.log('closing while asked'); it.close(); }, 500);
  const timer = setTimeout(() => { console.log('pushing a prompt after 8s'); q.push(user('continue please')); }, 8000);
  try {
  for await (const m of it) {
    if (m.type === 'system' && m.subtype === 'init') sid = m.session_id;
    if (m.type === 'result') { console.log('RESULT', m.subtype, m.terminal_reason, m.result); break; }
    if (m.type === 'user') console.log('USER msg', JSON.stringify(m.message).slice(0, 200));
  }} catch (e) { console.log('ended', String(e).slice(0, 100)); }
  clearTimeout(timer);
  q.end(); it.close();
  return sid;
}
const sid = await run(null, 'please write');
console.log('file exists after first run?', existsSync(target));
phase = 2; onAsk = undefined;
await run(sid, null);
console.log('file exists?', existsSync(target));
for (const r of mock.mainRequests()) console.log('REQ', r.id, JSON.stringify(r.body.messages.slice(-2).map((m) => Array.isArray(m.content) ? m.content.map((c) => c.type + (c.type === 'tool_result' ? ':' + JSON.stringify(c.content).slice(0, 80) : c.type==='text'? ':' + c.text.slice(0,40): '')) : m.content.slice(0,50))));
await mock.stop();
