#!/usr/bin/env node
// `prepare` for a source checkout only. `npm install` / `npm ci` in a clone of the repository
// must leave a built dist/: `npm start`, `npx tether` and the tests of the built binary run it.
// Nowhere else does this build: a published package already carries dist/ (built on `prepack`,
// which also covers `npm pack` / `npm publish`, so this skips those), and a consumer has neither
// the sources nor TypeScript. It ships with the package only so that an installer that does run
// a dependency's `prepare` finds a no-op instead of a missing file.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const command = process.env.npm_command;
if (!existsSync('.git') || !existsSync('tsconfig.build.json') || command === 'pack' || command === 'publish') process.exit(0);

const npm = process.env.npm_execpath;
const result = npm
  ? spawnSync(process.execPath, [npm, 'run', 'build'], { stdio: 'inherit' })
  : spawnSync('npm', ['run', 'build'], { stdio: 'inherit', shell: process.platform === 'win32' });
process.exit(result.status ?? 1);
