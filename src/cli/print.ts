// A command's output, written to fd 1 (or 2) with write(2). process.stdout is a stream that
// Node builds on first use, for a pipe or a terminal, and that cost 3-4 ms of a short command
// here (it loads net or tty); one write does not need it. Output that goes on (logs -f, exec,
// a foreground pod) keeps the streams: on Linux they write synchronously too, so the order holds.
import { writeSync } from 'node:fs';

const nap = new Int32Array(new SharedArrayBuffer(4));

/** Writes all of `text`. A reader that went away (EPIPE: tspod ps | head -1) ends it quietly. */
function writeAll(fd: number, text: string): void {
  let rest = Buffer.from(text);
  while (rest.length > 0) {
    try {
      rest = rest.subarray(writeSync(fd, rest));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') return;
      // A full pipe that someone else made non-blocking: wait for its reader.
      if (code === 'EAGAIN') Atomics.wait(nap, 0, 0, 1);
      else throw err;
    }
  }
}

export const print = (text: string): void => writeAll(1, text);
export const printError = (text: string): void => writeAll(2, text);

/** Something the user should know that does not stop the command: one line on stderr. */
export const warning = (line: string): void => printError(`tspod: warning: ${line}\n`);

/** A pod (or image) a listing left out, and why: one line on stderr; the listing goes on. */
export const skipped = (_name: string, problem: string): void => printError(`tspod: skipped: ${problem}\n`);
