// The command lines that skip commander (src/cli/shortcuts.ts) must make the very call that
// commander makes of them; anything near them but not one of them goes to commander.
import t from 'tap';
import { tspodProgram } from '../../src/cli/program.js';
import type { Invoke } from '../../src/cli/handlers.js';
import { FORM_WORDS, shortcut } from '../../src/cli/shortcuts.js';

/** The handler and arguments a call is made with. */
async function madeCall(make: (invoke: Invoke) => Promise<unknown>): Promise<unknown[] | undefined> {
  let call: unknown[] | undefined;
  await make(async (load, ...args) => {
    call = [load, ...args];
  });
  return call;
}

/** The handler and arguments that commander's action passes for `words`. */
const commanderCall = (words: string[]) => madeCall((invoke) => tspodProgram(words, '0.0.0', invoke).parseAsync(words, { from: 'user' }));

t.test('each shortcut makes the call commander makes', async (t) => {
  t.ok(FORM_WORDS.length >= 5, `${FORM_WORDS.length} forms`);
  for (const form of FORM_WORDS) {
    for (const value of ['web', 'a.yaml', '/tmp/x y.yaml', 'rm']) {
      const words = form.split(' ').map((w) => (w.startsWith('<') ? value : w));
      const call = shortcut(words);
      t.ok(call, `${words.join(' ')} is a shortcut`);
      t.strictSame(await madeCall(call!), await commanderCall(words), `${words.join(' ')}: the same handler and arguments`);
    }
  }
});

t.test('anything else goes to commander', async (t) => {
  for (const words of [
    ['rm', '-f', '--help'],
    ['rm', '-f', '-x'],
    ['run', '-d', '-f', '-'],
    ['run', '-d', '-f', 'a.yaml', 'extra'],
    ['run', '-f', 'a.yaml', '-d'],
    ['rm', '-f'],
    ['rm', 'web', 'ctr'],
    ['ps', '--json'],
    ['--root', '/tmp/x', 'ps'],
    ['ps', '-a', '-a'],
    [],
  ]) {
    t.equal(shortcut(words), undefined, `tspod ${words.join(' ')}`);
  }
});
