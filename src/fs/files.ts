// Record files, as JSON: written whole (a temporary file renamed over the old one, so a reader
// never sees half of one) and read back with their format version checked.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { TspodError } from '../errors.js';

/** Writes `value` to `file` through `tmp`, a name in the same directory that no reader uses. */
export function writeRecordFile(file: string, tmp: string, value: unknown): void {
  writeFileSync(tmp, JSON.stringify(value, null, 1) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}

/**
 * The record in `file`; undefined when there is none. `what` names the kind in errors. A record
 * that is not JSON, not an object, of another version, or that `check` finds wrong (it says
 * what is wrong, or nothing) is an error naming the file: nothing is read from a record that a
 * later step would trip over.
 */
export function readRecordFile<T extends { version: number }>(
  file: string,
  version: number,
  what: string,
  check?: (record: Record<string, unknown>) => string | undefined,
): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch (err) {
    throw new TspodError(`${file}: unreadable ${what}: ${(err as Error).message}`);
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record))
    throw new TspodError(`${file}: unreadable ${what}: not an object`);
  const r = record as Record<string, unknown>;
  if (r.version !== version) throw new TspodError(`${file}: ${what} version ${String(r.version)}, this tspod reads ${version}`);
  const problem = check?.(r);
  if (problem) throw new TspodError(`${file}: damaged ${what}: ${problem}`);
  return record as T;
}

/** What `shape` finds wrong in `value`, by field path (the first thing), or undefined. */
export type Shape = (value: unknown, path: string) => string | undefined;

const is =
  (test: (v: unknown) => boolean, what: string): Shape =>
  (v, path) =>
    test(v) ? undefined : `${path} is not ${what}`;

/** Small checks of a record's shape, for readRecordFile's `check`. */
export const shapes = {
  string: is((v) => typeof v === 'string', 'a string'),
  boolean: is((v) => typeof v === 'boolean', 'true or false'),
  count: is((v) => Number.isSafeInteger(v) && (v as number) >= 0, 'a whole number'),
  pid: is((v) => Number.isSafeInteger(v) && (v as number) > 0, 'a process id'),
  oneOf: (values: readonly string[]): Shape => is((v) => values.includes(v as string), `one of ${values.join(', ')}`),
  optional:
    (shape: Shape): Shape =>
    (v, path) =>
      v === undefined ? undefined : shape(v, path),
  list:
    (item: Shape): Shape =>
    (v, path) => {
      if (!Array.isArray(v)) return `${path} is not a list`;
      for (const [i, x] of v.entries()) {
        const p = item(x, `${path}[${i}]`);
        if (p) return p;
      }
      return undefined;
    },
  object:
    (fields: Record<string, Shape> = {}): Shape =>
    (v, path) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${path} is not an object`;
      for (const [key, shape] of Object.entries(fields)) {
        const p = shape((v as Record<string, unknown>)[key], path ? `${path}.${key}` : key);
        if (p) return p;
      }
      return undefined;
    },
};
