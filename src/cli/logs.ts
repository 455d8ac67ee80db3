// tspod logs POD CONTAINER: a container's log, as kubectl logs shows it. Lines written to stdout
// go to stdout and lines written to stderr to stderr, as crictl and podman do.
import { InputError } from '../errors.js';
import { followLog, readLog, type FollowOptions, type LogLine } from '../logs/reader.js';
import { isRunning, type ProcessId } from '../native/identity.js';
import { stateRoot } from '../state/paths.js';
import { StateStore, containerOf } from '../state/store.js';
import { READ_WHY, requireRoot } from './root.js';
import { print as printOut, printError } from './print.js';

export interface LogsOptions {
  follow?: boolean;
  tail?: string;
  root?: string;
}

/**
 * How long --follow keeps reading after the container's process is gone: the supervisor reads
 * its output from pipes, so the last lines reach the file a moment after the exit.
 */
const AFTER_EXIT_MS = 500;

function tailOption(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new InputError('--tail', `"${value}" is not a number of lines (a whole number, 0 or more)`);
  }
  return Number(value);
}

export async function logs(pod: string, container: string, opts: LogsOptions): Promise<number> {
  const tail = opts.tail === undefined ? undefined : tailOption(opts.tail);
  requireRoot('tspod logs', READ_WHY);
  const store = new StateStore(stateRoot(opts.root));
  const record = store.need(pod);
  const c = containerOf(record, container);
  const path = store.paths.log(pod, container);
  if (!opts.follow) {
    printLog(readLog(path, { tail }));
    return 0;
  }

  // A reader that went away (| head) is the end of the output, not an error.
  const stopped = new AbortController();
  let writeError: Error | undefined;
  const onWriteError = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') writeError ??= err;
    stopped.abort();
  };
  const print = (l: LogLine) => {
    if (!stopped.signal.aborted) (l.stream === 'stdout' ? process.stdout : process.stderr).write(l.text + '\n');
  };
  process.stdout.on('error', onWriteError);
  process.stderr.on('error', onWriteError);
  try {
    await follow(path, c.process, { tail, onLine: print, signal: stopped.signal }, () => stopped.abort());
    // Write errors arrive as events, after the writes.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.stdout.off('error', onWriteError);
    process.stderr.off('error', onWriteError);
  }
  if (writeError) throw writeError;
  return 0;
}

/** What is in the log now, with write(2): consecutive lines of one stream in one write. */
function printLog(lines: LogLine[]): void {
  let stream: LogLine['stream'] | undefined;
  let chunk = '';
  const flush = () => {
    if (chunk) (stream === 'stdout' ? printOut : printError)(chunk);
    chunk = '';
  };
  for (const l of lines) {
    if (l.stream !== stream || chunk.length > 65536) flush();
    stream = l.stream;
    chunk += l.text + '\n';
  }
  flush();
}

/**
 * Follows until the process that runs now ends, as kubectl logs -f does: a restart by the
 * container's policy is another instance. Without a running process, prints what is there.
 * Ctrl-C ends it quietly.
 */
async function follow(path: string, instance: ProcessId | undefined, opts: Omit<FollowOptions, 'done'>, interrupt: () => void) {
  const running = instance && isRunning(instance) ? instance : undefined;
  let goneAt: number | undefined;
  const done = () => {
    if (!running) return true;
    if (goneAt === undefined && !isRunning(running)) goneAt = Date.now();
    return goneAt !== undefined && Date.now() - goneAt >= AFTER_EXIT_MS;
  };
  process.once('SIGINT', interrupt);
  try {
    await followLog(path, { ...opts, done });
  } finally {
    process.off('SIGINT', interrupt);
  }
}
