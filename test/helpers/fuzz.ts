// Deterministic fuzzing for the tests: a seeded generator, mutations of bytes and of JSON
// values, and the property every entry point of tspod's must hold for any input: a result, or
// a TspodError with a one-line message; never another exception, and never a hang.
// TSPOD_FUZZ_ROUNDS multiplies the rounds (CI runs 1: under a minute for the whole suite).
import type { Test } from 'tap';
import { TspodError } from '../../src/errors.js';

export const FUZZ_SCALE = Math.max(1, Number(process.env.TSPOD_FUZZ_ROUNDS ?? 1) || 1);

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Random = ReturnType<typeof rng>;
const int = (r: Random, n: number) => Math.floor(r() * n);

/** Values that break what expects another: extremes, wrong types, hostile strings. */
const ODD_VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1e308,
  -0,
  2 ** 53 + 1,
  4294967295,
  '',
  '\u0000',
  '../../../etc/passwd',
  '/proc/self/fd/0',
  'x'.repeat(70_000),
  '$(A)$(A)$(A)',
  '__proto__',
  [],
  {},
  [null],
  { __proto__: { polluted: true } },
];

/** A bytewise mutation: flips, truncations, insertions, repeats; 1 to 4 of them. */
export function mutateBytes(r: Random, input: Buffer): Buffer {
  let b = Buffer.from(input);
  for (let k = 1 + int(r, 4); k > 0; k--) {
    const at = int(r, Math.max(1, b.length));
    switch (int(r, 6)) {
      case 0: // flip a few bits
        if (b.length) b[at] ^= 1 << int(r, 8);
        break;
      case 1: // a byte set to an edge value
        if (b.length) b[at] = [0, 0xff, 0x7f, 0x80, 0x30, 0x2f][int(r, 6)];
        break;
      case 2: // cut short
        b = b.subarray(0, at);
        break;
      case 3: // random bytes put in
        b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(r, 16) }, () => int(r, 256))), b.subarray(at)]);
        break;
      case 4: // a slice repeated
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + 1 + int(r, 512)), b.subarray(at)]);
        break;
      case 5: // a run of digits (sizes, counts, octal fields)
        b = Buffer.concat([b.subarray(0, at), Buffer.from('9'.repeat(1 + int(r, 24))), b.subarray(at + 1)]);
        break;
    }
  }
  return b;
}

/** A JSON value with one of its parts replaced, removed, or given an odd value. */
export function mutateJson(r: Random, value: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(value)) as unknown;
  const holders: [Record<string, unknown> | unknown[], string | number][] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        holders.push([v, i]);
        walk(x);
      });
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        holders.push([v as Record<string, unknown>, k]);
        walk(x);
      }
    }
  };
  walk(copy);
  if (!holders.length) return ODD_VALUES[int(r, ODD_VALUES.length)];
  for (let k = 1 + int(r, 3); k > 0; k--) {
    const [holder, key] = holders[int(r, holders.length)];
    const choice = int(r, 4);
    if (choice === 0 && !Array.isArray(holder)) delete holder[key as string];
    else if (choice === 1 && !Array.isArray(holder)) holder[`extra${int(r, 3)}`] = ODD_VALUES[int(r, ODD_VALUES.length)];
    else (holder as Record<string | number, unknown>)[key] = ODD_VALUES[int(r, ODD_VALUES.length)];
  }
  return copy;
}

/** How long one input may take before it counts as a hang (a bound, not a measure: inputs are small). */
const HANG_MS = 5000;

/**
 * Runs `fn` on each of `inputs`: each must give a result or a TspodError with a one-line
 * message, within HANG_MS. Failures are counted and the first few shown with their input.
 */
export async function holds<I>(
  t: Test,
  what: string,
  inputs: Iterable<I>,
  fn: (input: I) => unknown,
  show: (input: I) => string,
): Promise<void> {
  let n = 0;
  const bad: string[] = [];
  for (const input of inputs) {
    n++;
    const started = Date.now();
    try {
      await fn(input);
    } catch (err) {
      if (!(err instanceof TspodError)) bad.push(`${(err as Error)?.name}: ${(err as Error)?.message} for ${show(input)}`);
      else if (!err.message || err.message.includes('\n'))
        bad.push(`a message that is not one line: ${JSON.stringify(err.message)} for ${show(input)}`);
    }
    const took = Date.now() - started;
    if (took > HANG_MS) bad.push(`${took} ms for ${show(input)}`);
  }
  t.same(bad.slice(0, 5), [], `${what}: ${n} inputs, each a result or a TspodError of one line (${bad.length} not)`);
}
