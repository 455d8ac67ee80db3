// The forms that scripts repeat, matched word for word, skip commander: loading it costs 9-13 ms
// of every command here, 15% of Node's own start-up (docs/PERFORMANCE.md), and these forms need
// no parsing. Anything else, help and every usage error included, goes through commander
// (program.ts); test/unit/cli-shortcuts.test.ts checks that commander makes the same call of
// each form.
import { handlers, type Handler } from './handlers.js';

/** A form: its words, where `<x>` is one word that is not an option; the call commander makes. */
type Form = [words: string, load: () => Handler, args: (values: string[]) => unknown[]];

const FORMS: Form[] = [
  ['run -d -f <manifest>', handlers.run, ([file]) => [[], { env: [], volume: [], publish: [], detach: true, file, root: undefined }]],
  ['rm -f <pod>', handlers.rm, ([pod]) => [pod, undefined, { force: true, root: undefined }]],
  ['rm <pod>', handlers.rm, ([pod]) => [pod, undefined, { root: undefined }]],
  ['stop <pod>', handlers.stop, ([pod]) => [pod, undefined, { root: undefined }]],
  ['ps', handlers.ps, () => [{ root: undefined }]],
  ['ps -a', handlers.ps, () => [{ all: true, root: undefined }]],
];

/** The handler and its arguments when the command line is one of the forms. */
export function shortcut(words: string[]): [() => Handler, ...unknown[]] | undefined {
  for (const [form, load, args] of FORMS) {
    const parts = form.split(' ');
    if (parts.length !== words.length) continue;
    const values: string[] = [];
    const match = parts.every((part, i) => {
      if (!part.startsWith('<')) return part === words[i];
      values.push(words[i]);
      return !words[i].startsWith('-');
    });
    if (match) return [load, ...args(values)];
  }
  return undefined;
}

/** The forms, for the test that holds them to commander's parse. */
export const FORM_WORDS = FORMS.map(([words]) => words);
