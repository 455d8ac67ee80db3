// The forms that scripts repeat, matched word for word, skip commander: loading it costs 9-13 ms
// of every command here, 15% of Node's own start-up (docs/PERFORMANCE.md), and these forms need
// no parsing. Anything else, help and every usage error included, goes through commander
// (program.ts); test/unit/cli-shortcuts.test.ts checks that commander makes the same call of
// each form.
import { handlers, type Invoke } from './handlers.js';

/** A command's call, made through whatever runs it. */
export type Call = (invoke: Invoke) => Promise<void>;

/** A form: its words, where `<x>` is one word that is not an option; the call commander makes. */
type Form = [words: string, call: (values: string[]) => Call];

const FORMS: Form[] = [
  [
    'run -d -f <manifest>',
    ([file]) =>
      (invoke) =>
        invoke(handlers.run, [], {
          env: [],
          volume: [],
          publish: [],
          capAdd: [],
          capDrop: [],
          securityOpt: [],
          sysctl: [],
          detach: true,
          file,
          root: undefined,
        }),
  ],
  [
    'rm -f <pod>',
    ([pod]) =>
      (invoke) =>
        invoke(handlers.rm, pod, undefined, { force: true, root: undefined }),
  ],
  [
    'rm <pod>',
    ([pod]) =>
      (invoke) =>
        invoke(handlers.rm, pod, undefined, { root: undefined }),
  ],
  [
    'stop <pod>',
    ([pod]) =>
      (invoke) =>
        invoke(handlers.stop, pod, undefined, { root: undefined }),
  ],
  ['ps', () => (invoke) => invoke(handlers.ps, { root: undefined })],
  ['ps -a', () => (invoke) => invoke(handlers.ps, { all: true, root: undefined })],
];

/** The command's call when the command line is one of the forms. */
export function shortcut(words: string[]): Call | undefined {
  for (const [form, call] of FORMS) {
    const parts = form.split(' ');
    if (parts.length !== words.length) continue;
    const values: string[] = [];
    const match = parts.every((part, i) => {
      if (!part.startsWith('<')) return part === words[i];
      values.push(words[i]);
      return !words[i].startsWith('-');
    });
    if (match) return call(values);
  }
  return undefined;
}

/** The forms, for the test that holds them to commander's parse. */
export const FORM_WORDS = FORMS.map(([words]) => words);
