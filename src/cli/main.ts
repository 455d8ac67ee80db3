#!/usr/bin/env node
// The tspod command. Node's own start-up is most of a short command's time (node -e 0: 60-85 ms
// here), so a command loads only what it needs: `--version` answers before anything is loaded,
// the forms scripts repeat skip commander (shortcuts.ts), and each command's module is required
// when that command runs (handlers.ts; docs/PERFORMANCE.md).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Handler } from './handlers.js';
import { print } from './print.js';

const { version } = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string };
const words = process.argv.slice(2);
if (words.length === 1 && (words[0] === '--version' || words[0] === '-v')) {
  print(`${version}\n`);
  process.exit(0);
}

/** Runs a command's handler and exits with the status it returns. */
async function invoke<A extends unknown[]>(load: () => Handler<A>, ...args: A): Promise<void> {
  process.exit(await load()(...args));
}

function fail(err: unknown): void {
  process.exit((require('./errors.js') as typeof import('./errors.js')).handleError(err));
}

const hit = (require('./shortcuts.js') as typeof import('./shortcuts.js')).shortcut(words);
if (hit) {
  hit(invoke).catch(fail);
} else {
  const { CommanderError } = require('commander') as typeof import('commander');
  const { tspodProgram } = require('./program.js') as typeof import('./program.js');
  tspodProgram(words, version, invoke)
    .parseAsync(words, { from: 'user' })
    .catch((err: unknown) => {
      // --help and --version end parsing with a CommanderError too, status 0.
      if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 125);
      fail(err);
    });
}
