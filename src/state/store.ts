// Reading and writing the state directory. Directories are 0700 and files 0600 (root only);
// pod.json is replaced by rename, so a reader sees the old or the new record, never half of
// one; a pod's name is taken by mkdir, which exactly one of two racing creators wins.
import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { NotFound, TspodError } from '../errors.js';
import { dns1123LabelProblem } from '../pod/names.js';
import { StatePaths } from './paths.js';
import { CONTAINER_STATES, POD_STATES, RECORD_VERSION, type ContainerRecord, type PodRecord } from './records.js';
import { readRecordFile, shapes as s, writeRecordFile } from '../fs/files.js';
import { removeTree } from '../fs/remove.js';

/** A record's process: pid and start time. */
const processId = s.object({ pid: s.pid, startTime: s.string });

/**
 * What the commands and the monitor read of a pod's record, checked when it is read: a record
 * cut short, edited, or from a bug is named as damaged instead of failing a listing later with
 * a TypeError. (The specs inside are tspod's own writing: their shape, not every value.)
 */
const podShape = s.object({
  name: s.string,
  createdAt: s.string,
  state: s.oneOf(POD_STATES),
  persistent: s.boolean,
  supervisor: s.object({ kind: s.oneOf(['monitor', 'foreground']), pid: s.pid, startTime: s.string }),
  spec: s.object({
    name: s.string,
    hostname: s.string,
    share: s.list(s.string),
    restartPolicy: s.string,
    terminationGracePeriodSeconds: s.count,
    network: s.object({ mode: s.string }),
    ports: s.list(s.object()),
    volumes: s.list(s.object({ name: s.string })),
    labels: s.object(),
    annotations: s.object(),
  }),
  infra: s.optional(s.object({ process: processId, exit: s.optional(s.object()) })),
  network: s.optional(s.object({ mode: s.string, ports: s.list(s.object()) })),
  cgroup: s.optional(s.object({ mount: s.string, name: s.string, v2: s.optional(s.list(s.string)), v1: s.optional(s.object()) })),
  reason: s.optional(s.string),
  containers: s.list(
    s.object({
      name: s.string,
      spec: s.object({ name: s.string, command: s.list(s.string), args: s.list(s.string), env: s.list(s.object()) }),
      restartPolicy: s.string,
      state: s.oneOf(CONTAINER_STATES),
      restartCount: s.count,
      process: s.optional(processId),
      lastExit: s.optional(s.object()),
      lastError: s.optional(s.object({ message: s.string })),
      imageLayers: s.optional(s.list(s.string)),
    }),
  ),
});

/** Temporary files are named by pid and a count: unique across writers without node:crypto,
 * whose loading cost 3-4 ms of every command's start-up here. */
let tmpCount = 0;

export class StateStore {
  readonly paths: StatePaths;

  constructor(root: string) {
    this.paths = new StatePaths(root);
  }

  get root(): string {
    return this.paths.root;
  }

  /** Creates the state root (0700) if needed; refuses one that others could write or read. */
  ensureRoot(): void {
    mkdirSync(this.paths.podsDir, { recursive: true, mode: 0o700 });
    for (const dir of [this.root, this.paths.podsDir]) {
      const st = lstatSync(dir);
      if (!st.isDirectory() || st.uid !== process.geteuid?.()) {
        throw new TspodError(`state directory ${dir} is not a directory owned by this user: refusing to use it`);
      }
      if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
    }
  }

  /** Takes a pod's name: exactly one caller wins. Returns false when the name is taken. */
  reserve(name: string): boolean {
    this.ensureRoot();
    try {
      mkdirSync(this.paths.pod(name), { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
    mkdirSync(`${this.paths.pod(name)}/logs`, { mode: 0o700 });
    return true;
  }

  write(record: PodRecord): void {
    const file = this.paths.podFile(record.name);
    writeRecordFile(file, `${file}.${process.pid}.${++tmpCount}`, record);
  }

  /** The pod's record; undefined when there is no such pod (or it is still being reserved). */
  read(name: string): PodRecord | undefined {
    return readRecordFile<PodRecord>(this.paths.podFile(name), RECORD_VERSION, 'pod record', (r) =>
      r.name !== name ? `its name is ${JSON.stringify(r.name)}, not ${JSON.stringify(name)}` : podShape(r, ''),
    );
  }

  /** The pod's record; NotFound naming the pod when it does not exist. */
  need(name: string): PodRecord {
    const record = this.read(name);
    if (!record) throw new NotFound(`pod "${name}" does not exist`);
    return record;
  }

  /** Names of every pod directory, in name order. */
  names(): string[] {
    try {
      return readdirSync(this.paths.podsDir)
        .filter((n) => !n.startsWith('.'))
        .sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  /**
   * Every pod with a record. One that cannot be read (a directory that is no pod name, a
   * damaged record) is told to `onBad`, with why, and left out: the others are listed.
   */
  list(onBad: (name: string, problem: string) => void = () => {}): PodRecord[] {
    return this.names().flatMap((n) => {
      if (dns1123LabelProblem(n)) {
        onBad(n, `${this.paths.podsDir}/${n} is not a pod: its name is not a DNS-1123 label (remove it by hand)`);
        return [];
      }
      try {
        return this.read(n) ?? [];
      } catch (err) {
        if (!(err instanceof TspodError)) throw err;
        onBad(n, err.message);
        return [];
      }
    });
  }

  remove(name: string): void {
    // Its volumes and writable layers were the containers' to fill: no symlink there is followed.
    removeTree(this.paths.pod(name));
  }
}

/** The container of a pod's record; NotFound naming both when the pod has no such container. */
export function containerOf(record: Pick<PodRecord, 'name' | 'containers'>, name: string): ContainerRecord {
  const c = record.containers.find((x) => x.name === name);
  if (!c) {
    const names = record.containers.map((x) => x.name).join(', ') || 'none';
    throw new NotFound(`pod "${record.name}" has no container "${name}" (its containers: ${names})`);
  }
  return c;
}
