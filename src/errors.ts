// Errors that are the user's to fix (bad input, missing root) carry the exit status the CLI
// uses; errno errors from the addon keep Node's shape (code, errno, syscall, path), and so do
// the errors that wrap them.

const ERRNO_FIELDS = ['code', 'errno', 'syscall', 'path'] as const;
export type ErrnoFields = Partial<Pick<NodeJS.ErrnoException, (typeof ERRNO_FIELDS)[number]>>;

/** The errno fields an error carries (none for a plain error). */
export function errnoFields(err: unknown): ErrnoFields {
  const out: Record<string, unknown> = {};
  if (typeof err === 'object' && err !== null) {
    for (const key of ERRNO_FIELDS) {
      const v = (err as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = v;
    }
  }
  return out as ErrnoFields;
}

/**
 * A message on one line, whatever it quotes: control characters (a newline in a value, in
 * JSON.parse's excerpt of bad input) are written as escapes, so what is printed can neither
 * span lines nor move the terminal's cursor.
 */
export function oneLine(message: string): string {
  // eslint-disable-next-line no-control-regex
  return message.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

/** An error the user can act on; its message is one line that names the culprit. */
export class TspodError extends Error {
  /** Exit status of the CLI: 125 as docker/podman use for the runtime's own errors. */
  exitCode: number;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
  /** `cause`: an errno error whose fields this one keeps. */
  constructor(message: string, exitCode = 125, cause?: unknown) {
    super(oneLine(message));
    this.name = 'TspodError';
    this.exitCode = exitCode;
    Object.assign(this, errnoFields(cause));
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

/** A pod or container that does not exist. */
export class NotFound extends TspodError {
  constructor(message: string) {
    super(message);
    this.name = 'NotFound';
  }
}

/** A name that is taken, or a pod or container in a state that does not allow the request. */
export class Conflict extends TspodError {
  constructor(message: string) {
    super(message);
    this.name = 'Conflict';
  }
}

/** Exit statuses of a command that could not be started, as docker and podman use them. */
export const EXIT_NOT_FOUND = 127;
export const EXIT_CANNOT_RUN = 126;

/** A process that could not be started: errno fields of the cause; 127 not found, 126 not runnable. */
export class StartFailed extends TspodError {
  constructor(message: string, exitCode: number, cause?: unknown) {
    super(message, exitCode, cause);
    this.name = 'StartFailed';
  }

  /** From a spawn's error: execve ENOENT is 127, another execve failure 126, the rest 125. */
  static from(who: string, cause: Error): TspodError {
    if (cause instanceof TspodError) return cause;
    const e = cause as NodeJS.ErrnoException;
    const status = e.syscall === 'execve' ? (e.code === 'ENOENT' ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN) : 125;
    return new StartFailed(`${who}: ${cause.message}`, status, cause);
  }
}

export function isErrnoError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && 'syscall' in err;
}
