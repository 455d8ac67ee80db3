// A process's identity: its pid and its start time, from /proc/PID/stat. A pid can be reused
// by the time anyone looks again; the start time of the process that has it then differs.
// Records, networks, supervisors and the read-only commands all tell processes apart this way,
// so it sits at the bottom, beside the addon's binding; it loads nothing but node:fs.
import { readFileSync } from 'node:fs';

/** A process, identified so that a reused pid is never mistaken for it. */
export interface ProcessId {
  pid: number;
  /** Field 22 of /proc/PID/stat: clock ticks after boot at which it started. */
  startTime: string;
}

/** Undefined when there is no such process; any other failure (EMFILE) is thrown, since a
 *  process that runs must not be taken for one that ended. */
function readStat(pid: number): { state: string; startTime: string } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    // ESRCH: it was reaped between the open and the read.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined;
    throw err;
  }
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], startTime: fields[19] };
}

/** Field 22 of /proc/PID/stat: the start time in clock ticks after boot, or undefined. */
export function startTimeOf(pid: number): string | undefined {
  return readStat(pid)?.startTime;
}

/** True while the process that had this pid and start time still runs (not as a zombie). */
export function isRunning(p: ProcessId): boolean {
  const s = readStat(p.pid);
  return !!s && s.state !== 'Z' && s.startTime === p.startTime;
}
