// tspod events [POD]: what happened to pods and their containers, as kubectl get events shows a
// pod's, from the events files in the state directory (no monitor needed): every pod's merged by
// time, oldest first. -f then prints each new event as it is written, of pods made later too, until
// Ctrl-C/SIGTERM or, for one pod, until it is removed. Following polls, as logs -f does: a stat of
// each events file every 250 ms, which costs nothing next to fs.watch's misses on some file systems.
import { statSync } from 'node:fs';
import { oneLine } from '../errors.js';
import { dns1123LabelProblem } from '../pod/names.js';
import { collapseRepeats, EventFollower, type PodEvent } from '../state/events.js';
import { stateRoot } from '../state/paths.js';
import { StateStore } from '../state/store.js';
import { READ_WHY, requireRoot } from './root.js';
import { print, skipped } from './print.js';
import { age, formatTable } from './table.js';

export interface EventsOptions {
  follow?: boolean;
  json?: boolean;
  root?: string;
}

/** An event and its pod, as --json prints it. */
export type EventRow = { pod: string } & PodEvent;

const POLL_MS = 250;
const HEADER = ['LAST SEEN', 'POD', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'];

/** Rows of several pods, each oldest first, merged by time (a stable sort: ties keep pod order). */
function byTime(rows: EventRow[]): EventRow[] {
  return rows.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}

/** A row's cells: its age as ps shows ages (and kubectl its LAST SEEN), its count as kubectl's "(x3)". */
function cells(r: EventRow, now: number): string[] {
  const seen = age(r.at, now) + (r.count ? ` (x${r.count})` : '');
  const object = r.container === undefined ? `pod/${r.pod}` : `container/${r.container}`;
  // The file is root's, but a message quotes what containers said: one line, whatever it holds.
  return [seen, r.pod, r.type, r.reason, object, r.message].map(oneLine);
}

/** A row padded to `widths`, which grow to fit it: a followed table stays aligned as it can. */
function tableLine(row: string[], widths: number[]): string {
  row.forEach((cell, i) => (widths[i] = Math.max(widths[i], cell.length)));
  return (
    row
      .map((cell, i) => cell.padEnd(widths[i]))
      .join('  ')
      .trimEnd() + '\n'
  );
}

const jsonLines = (rows: EventRow[]) => rows.map((r) => JSON.stringify(r) + '\n').join('');

/** The events files followed: one pod's, or every pod's in the state directory as pods come and go. */
class Sources {
  private readonly followers = new Map<string, EventFollower>();
  private readonly told = new Set<string>();

  constructor(
    private readonly store: StateStore,
    private readonly pod: string | undefined,
  ) {}

  /** What each pod's file has that was not read yet, oldest first. */
  poll(collapse: boolean): EventRow[] {
    const names = this.pod !== undefined ? [this.pod] : this.names();
    for (const name of this.followers.keys()) if (!names.includes(name)) this.followers.delete(name);
    const rows: EventRow[] = [];
    for (const name of names) {
      let f = this.followers.get(name);
      if (!f) this.followers.set(name, (f = new EventFollower(this.store.paths.eventsFile(name))));
      const events = f.poll();
      for (const e of collapse ? collapseRepeats(events) : events) rows.push({ pod: name, ...e });
    }
    return byTime(rows);
  }

  /** Every pod's name; a directory that is no pod's name is told once, and left out. */
  private names(): string[] {
    return this.store.names().filter((n) => {
      if (!dns1123LabelProblem(n)) return true;
      if (!this.told.has(n)) skipped(n, `${this.store.paths.podsDir}/${n} is not a pod: its name is not a DNS-1123 label`);
      this.told.add(n);
      return false;
    });
  }
}

export async function events(pod: string | undefined, opts: EventsOptions): Promise<number> {
  requireRoot('tspod events', READ_WHY);
  const store = new StateStore(stateRoot(opts.root));
  let podDir: string | undefined;
  let podIno: number | undefined;
  if (pod !== undefined) {
    store.need(pod);
    // The pod as it is now: its directory is made when its name is taken and goes when it is removed.
    podDir = store.paths.pod(pod);
    podIno = statSync(podDir, { throwIfNoEntry: false })?.ino ?? -1;
  }
  const sources = new Sources(store, pod);
  const first = sources.poll(true);
  const now = Date.now();
  if (!opts.follow) {
    print(
      opts.json
        ? jsonLines(first)
        : formatTable(
            HEADER,
            first.map((r) => cells(r, now)),
          ),
    );
    return 0;
  }

  // What goes on is written through the stream, as logs -f does: a reader that went away
  // (| head) ends it, quietly.
  const stopped = new AbortController();
  let writeError: Error | undefined;
  const onWriteError = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') writeError ??= err;
    stopped.abort();
  };
  const write = (text: string) => {
    if (text && !stopped.signal.aborted) process.stdout.write(text);
  };
  // The table's columns are as wide as what is there now, and widen for a wider event later.
  const widths = HEADER.map((h) => h.length);
  const show = (rows: EventRow[], at: number) =>
    write(opts.json ? jsonLines(rows) : rows.map((r) => tableLine(cells(r, at), widths)).join(''));
  const interrupt = () => stopped.abort();
  process.stdout.on('error', onWriteError);
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    if (!opts.json) {
      for (const row of first.map((r) => cells(r, now))) row.forEach((cell, i) => (widths[i] = Math.max(widths[i], cell.length)));
      write(tableLine(HEADER, widths));
    }
    show(first, now);
    while (!stopped.signal.aborted) {
      await sleep(POLL_MS, stopped.signal);
      // Asked before reading: what a pod being removed wrote, if its file is still there, is read below.
      const gone = podDir !== undefined && statSync(podDir, { throwIfNoEntry: false })?.ino !== podIno;
      if (!stopped.signal.aborted) show(sources.poll(false), Date.now());
      if (gone) break;
    }
    // Write errors arrive as events, after the writes.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.stdout.off('error', onWriteError);
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
  if (writeError) throw writeError;
  return 0;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const wake = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    signal.addEventListener('abort', wake, { once: true });
  });
}
