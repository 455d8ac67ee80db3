// The CLI's one error exit: a one-line message on stderr and an exit status.
import { TspodError, isErrnoError } from '../errors.js';

export function handleError(err: unknown): number {
  if (err instanceof TspodError) {
    process.stderr.write(`tspod: ${err.message}\n`);
    return err.exitCode;
  }
  if (isErrnoError(err)) {
    // The addon's errors already read as Node's: "EPERM: operation not permitted, setns '...'".
    process.stderr.write(`tspod: ${err.message}\n`);
    return 125;
  }
  process.stderr.write(`tspod: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 125;
}
