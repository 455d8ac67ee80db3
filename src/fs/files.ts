// Record files, as JSON: written whole (a temporary file renamed over the old one, so a reader
// never sees half of one) and read back with their format version checked.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { TspodError } from '../errors.js';

/** Writes `value` to `file` through `tmp`, a name in the same directory that no reader uses. */
export function writeRecordFile(file: string, tmp: string, value: unknown): void {
  writeFileSync(tmp, JSON.stringify(value, null, 1) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}

/** The record in `file`; undefined when there is none. `what` names the kind in errors. */
export function readRecordFile<T extends { version: number }>(file: string, version: number, what: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let record: T;
  try {
    record = JSON.parse(text) as T;
  } catch (err) {
    throw new TspodError(`${file}: unreadable ${what}: ${(err as Error).message}`);
  }
  if (record.version !== version) throw new TspodError(`${file}: ${what} version ${record.version}, this tspod reads ${version}`);
  return record;
}
