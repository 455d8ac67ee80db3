// The stored ConfigMaps and Secrets: one JSON file per object under the state root
// (configmaps/NAME.json, secrets/NAME.json), each 0600 in a 0700 directory. An object is made
// whole or not at all (written to a temporary file, then linked to its name, which fails if the
// name is taken), and never changed in place: a pod takes a copy when it is created.
import { closeSync, fstatSync, linkSync, mkdirSync, openSync, readdirSync, unlinkSync, writeSync, constants } from 'node:fs';
import { Conflict, NotFound, TspodError } from '../errors.js';
import { dnsName } from '../pod/fields.js';
import { OBJECT_KINDS, type ObjectKind, type StoredObject } from '../pod/objects.js';
import { readRecordFile, shapes as s } from '../fs/files.js';
import type { StatePaths } from './paths.js';

const OBJECT_VERSION = 1;

const objectShape = s.object({ kind: s.oneOf(OBJECT_KINDS), name: s.string, data: s.object(), text: s.list(s.string) });

/**
 * A file that only its owner, this user, can read: a Secret's value is not to be read by others.
 * A file system that does not keep modes (vfat, some network ones) fails this.
 */
export function requireOwnerOnly(fd: number, file: string): void {
  const st = fstatSync(fd);
  if ((st.mode & 0o777) !== 0o600 || st.uid !== process.geteuid?.()) {
    throw new TspodError(
      `${file}: made with mode 0600, it has mode 0${(st.mode & 0o777).toString(8)} and owner ${st.uid}: ` +
        'this file system does not keep modes, so no Secret is stored there',
    );
  }
}

export class ObjectStore {
  constructor(private readonly paths: StatePaths) {}

  private dir(kind: ObjectKind): string {
    return `${this.paths.root}/${kind === 'ConfigMap' ? 'configmaps' : 'secrets'}`;
  }

  file(kind: ObjectKind, name: string): string {
    return `${this.dir(kind)}/${dnsName(name, `${kind} name`)}.json`;
  }

  /** Stores a new object; Conflict when one of its kind has its name. */
  create(obj: StoredObject): void {
    const dir = this.dir(obj.kind);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = this.file(obj.kind, obj.name);
    const tmp = `${dir}/.${obj.name}.${process.pid}.tmp`;
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      try {
        requireOwnerOnly(fd, tmp);
        writeSync(fd, JSON.stringify({ version: OBJECT_VERSION, ...obj }) + '\n');
      } finally {
        closeSync(fd);
      }
      linkSync(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new Conflict(`${obj.kind} "${obj.name}" exists already`);
      throw err;
    } finally {
      unlinkSync(tmp);
    }
  }

  /** The object; undefined when there is none. */
  get(kind: ObjectKind, name: string): StoredObject | undefined {
    const file = this.file(kind, name);
    const r = readRecordFile<StoredObject & { version: number }>(file, OBJECT_VERSION, kind, (o) =>
      o.kind !== kind || o.name !== name ? `it holds ${String(o.kind)} ${JSON.stringify(o.name)}` : objectShape(o, ''),
    );
    if (!r) return undefined;
    const { version: _, ...obj } = r;
    return obj;
  }

  /** Names of the stored objects of a kind, in name order. */
  names(kind: ObjectKind): string[] {
    try {
      return readdirSync(this.dir(kind))
        .filter((n) => n.endsWith('.json') && !n.startsWith('.'))
        .map((n) => n.slice(0, -'.json'.length))
        .sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  /** Removes the object; NotFound when there is none (pods keep their copies). */
  remove(kind: ObjectKind, name: string): void {
    try {
      unlinkSync(this.file(kind, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFound(`${kind} "${name}" does not exist`);
      throw err;
    }
  }
}
