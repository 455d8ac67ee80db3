// What the monitor's API and its clients share, with no dependency on the runtime: the CLI's
// read-only commands load this, not the monitor.
import { TspodError, errnoFields, type ErrnoFields } from '../errors.js';

export const API_VERSION = 'v1';

/** An error as the API sends it: the message, and the fields that say more. */
export interface ErrorBody extends ErrnoFields {
  error: string;
  /** The CLI's exit status for it. */
  exitCode: number;
  field?: string;
}

export function errorBody(err: unknown): ErrorBody {
  const e = err as { exitCode?: number; field?: string };
  return {
    error: err instanceof Error ? err.message : String(err),
    exitCode: e.exitCode ?? 125,
    ...(e.field !== undefined ? { field: e.field } : {}),
    ...errnoFields(err),
  };
}

/** The CLI side: the API's error as an error to throw, with the same message and fields. */
export class ApiError extends TspodError {
  /** The HTTP status: 409 when the monitor refused a change (docs/MONITOR-API.md). */
  readonly status: number;
  field?: string;
  constructor(status: number, body: ErrorBody) {
    super(body.error, body.exitCode, body);
    this.name = 'ApiError';
    this.status = status;
    if (body.field !== undefined) this.field = body.field;
  }
}
