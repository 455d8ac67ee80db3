// Errors that are the user's to fix (bad input, missing root) carry the exit status the CLI
// uses; errno errors from the addon keep Node's shape (code, errno, syscall, path).

/** An error the user can act on; its message is one line that names the culprit. */
export class TspodError extends Error {
  /** Exit status of the CLI: 125 as docker/podman use for the runtime's own errors. */
  exitCode: number;
  constructor(message: string, exitCode = 125) {
    super(message);
    this.name = 'TspodError';
    this.exitCode = exitCode;
  }
}

/** A field of a manifest or an option of the CLI that is invalid; `field` is its path. */
export class InputError extends TspodError {
  readonly field: string;
  readonly problem: string;
  /** The manifest the field is in, when there is one. */
  readonly file: string | undefined;
  constructor(field: string, problem: string, file?: string) {
    super(`${file ? `${file}: ` : ''}${field}: ${problem}`);
    this.name = 'InputError';
    this.field = field;
    this.problem = problem;
    this.file = file;
  }
}

export function isErrnoError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && 'syscall' in err;
}
