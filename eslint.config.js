import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Time is injected (src/domain/clock.ts): the broker and the store wait and read the time only
 * through a Clock, so tests move a ManualClock instead of sleeping. These rules keep it so.
 */
const TIME_RULES = {
  'no-restricted-globals': [
    'error',
    ...['setTimeout', 'setInterval', 'setImmediate'].map((name) => ({ name, message: 'Wait through the injected Clock (clock.timeout, sleep, every from src/domain/clock.ts).' })),
  ],
  'no-restricted-properties': [
    'error',
    { object: 'Date', property: 'now', message: 'Read the time from the injected Clock (clock.now()).' },
    { object: 'performance', property: 'now', message: 'Measure with the injected Clock (clock.now()).' },
  ],
  'no-restricted-syntax': [
    'error',
    { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'The current time comes from the injected Clock: new Date(clock.now()), or isoNow(clock).' },
  ],
};

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'coverage/', 'bench/results/', 'src/agents/codex/protocol/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'warn',
    },
  },
  {
    files: ['src/**/*.ts'],
    // Reasoned exceptions, where the time is a real process's or a real socket's, not the broker's:
    // - domain/clock.ts is the clock itself;
    // - agents/: an agent is an operating-system process; the grace before SIGKILL and the
    //   agent's own durations are wall time, whatever clock the broker runs on;
    // - server/ and client/: keep-alives, drain and reconnect backoff are the network's time on
    //   real sockets, and the client runs in its caller's process, with no broker clock;
    // - store/postgres/: the LISTEN reconnect and the retry jitter of a conflicting transaction
    //   wait on the network (the store's own time is the database clock);
    // - cli/: ages shown to a person are relative to the wall clock;
    // - testing/: the mock model APIs stand for remote servers with their own time;
    // - web/: the dashboard runs in a browser, on the browser's time.
    ignores: ['src/domain/clock.ts', 'src/agents/**', 'src/server/**', 'src/client/**', 'src/web/**', 'src/store/postgres/**', 'src/cli/**', 'src/testing/mock-anthropic.ts', 'src/testing/mock-http.ts', 'src/testing/mock-responses.ts', 'src/testing/mock-wire.ts'],
    rules: TIME_RULES,
  },
  {
    files: ['bin/**/*.js', 'scripts/**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
