// The CLI's one error exit: a one-line message on stderr and an exit status.
import { TspodError, isErrnoError, oneLine } from '../errors.js';
import { printError } from './print.js';

export function handleError(err: unknown): number {
  if (err instanceof TspodError) {
    printError(`tspod: ${err.message}\n`);
    return err.exitCode;
  }
  if (isErrnoError(err)) {
    // The addon's errors already read as Node's: "EPERM: operation not permitted, setns '...'".
    printError(`tspod: ${oneLine(err.message)}\n`);
    return 125;
  }
  printError(`tspod: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 125;
}
