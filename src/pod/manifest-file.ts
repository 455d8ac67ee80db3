// A manifest file's text, apart from the manifest checks (manifest.ts): `tspod run -d -f` only
// reads the file and sends it to the monitor, which checks it.
import { readFileSync } from 'node:fs';
import { InputError } from '../errors.js';

/** A manifest file's text; an error that names the file when it cannot be read. */
export function readManifest(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new InputError(file, `cannot read the manifest: ${e.code ?? e.message}`);
  }
}
