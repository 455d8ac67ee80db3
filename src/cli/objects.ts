// tspod configmap|secret create / ls / rm: the stored objects that pods take variables and
// volume files from (pod/objects.ts, state/objects.ts). No monitor is needed: they are files of
// the state directory, read when a pod is created.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { InputError, NotFound, TspodError } from '../errors.js';
import { dnsName } from '../pod/fields.js';
import { keyProblem } from '../pod/names.js';
import { makeObject, MAX_OBJECT_BYTES, type ObjectKind } from '../pod/objects.js';
import { ObjectStore } from '../state/objects.js';
import { StatePaths, stateRoot } from '../state/paths.js';
import { StateStore } from '../state/store.js';
import { print, printError } from './print.js';
import { requireRoot } from './root.js';
import { formatTable } from './table.js';

export interface ObjectOptions {
  root?: string;
  fromLiteral?: string[];
  fromFile?: string[];
  /** A Secret's type. */
  type?: string;
  json?: boolean;
}

const word = (kind: ObjectKind) => kind.toLowerCase();

/** The state's object store, its root made (0700) first. */
export function objectStore(root: string | undefined): ObjectStore {
  const store = new StateStore(stateRoot(root));
  store.ensureRoot();
  return new ObjectStore(new StatePaths(store.root));
}

/** A file's bytes, at most what an object may hold; errors name the file. */
function fileBytes(file: string, option: string): Buffer {
  try {
    if (statSync(file).size > MAX_OBJECT_BYTES)
      throw new InputError(option, `${file} is larger than an object may hold (${MAX_OBJECT_BYTES} bytes)`);
    return readFileSync(file);
  } catch (err) {
    if (err instanceof TspodError) throw err;
    throw new InputError(option, `${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** kubectl's --from-literal KEY=VALUE and --from-file [KEY=]PATH (a directory: its regular files, by name). */
function entries(o: ObjectOptions): { key: string; bytes: Buffer; text: boolean }[] {
  const out: { key: string; bytes: Buffer; text: boolean }[] = [];
  const add = (key: string, bytes: Buffer, option: string) => {
    const problem = keyProblem(key);
    if (problem) throw new InputError(option, `key ${problem}`);
    if (out.some((e) => e.key === key)) throw new InputError(option, `key "${key}" is given twice`);
    // A ConfigMap's key is text when it is UTF-8 (kubectl puts other files in binaryData).
    const text = Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);
    out.push({ key, bytes, text });
  };
  for (const kv of o.fromLiteral ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new InputError('--from-literal', `"${kv}" is not KEY=VALUE`);
    add(kv.slice(0, eq), Buffer.from(kv.slice(eq + 1), 'utf8'), '--from-literal');
  }
  for (const spec of o.fromFile ?? []) {
    const eq = spec.indexOf('=');
    const [key, file] = eq > 0 ? [spec.slice(0, eq), spec.slice(eq + 1)] : [undefined, spec];
    if (key === undefined && statSync(file, { throwIfNoEntry: false })?.isDirectory()) {
      for (const name of readdirSync(file).sort()) {
        const path = `${file}/${name}`;
        if (statSync(path).isFile() && !keyProblem(name)) add(name, fileBytes(path, '--from-file'), '--from-file');
      }
    } else {
      add(key ?? basename(file), fileBytes(file, '--from-file'), '--from-file');
    }
  }
  return out;
}

export async function objectCreate(kind: ObjectKind, name: string, o: ObjectOptions): Promise<number> {
  requireRoot(`tspod ${word(kind)} create`);
  const obj = makeObject(kind, dnsName(name, 'name'), entries(o), kind === 'Secret' ? o.type : undefined);
  objectStore(o.root).create(obj);
  print(`${word(kind)}/${obj.name}\n`);
  return 0;
}

export async function objectList(kind: ObjectKind, o: ObjectOptions): Promise<number> {
  requireRoot(`tspod ${word(kind)} ls`);
  const store = objectStore(o.root);
  // Keys and sizes only: a Secret's values are not printed.
  const rows = store.names(kind).flatMap((n) => {
    const obj = store.get(kind, n);
    if (!obj) return [];
    const keys = Object.keys(obj.data);
    return [
      {
        name: n,
        ...(obj.type ? { type: obj.type } : {}),
        keys,
        bytes: keys.reduce((sum, k) => sum + Buffer.from(obj.data[k], 'base64').length, 0),
      },
    ];
  });
  if (o.json) {
    print(JSON.stringify(rows, null, 2) + '\n');
    return 0;
  }
  const head = kind === 'Secret' ? ['NAME', 'TYPE', 'DATA', 'BYTES'] : ['NAME', 'DATA', 'BYTES'];
  print(
    formatTable(
      head,
      rows.map((r) => [r.name, ...(r.type ? [r.type] : []), String(r.keys.length), String(r.bytes)]),
    ),
  );
  return 0;
}

export async function objectRemove(kind: ObjectKind, names: string[], o: ObjectOptions): Promise<number> {
  requireRoot(`tspod ${word(kind)} rm`);
  const store = objectStore(o.root);
  let status = 0;
  for (const n of names) {
    try {
      store.remove(kind, dnsName(n, 'name'));
      print(`${n}\n`);
    } catch (err) {
      if (!(err instanceof NotFound || err instanceof InputError)) throw err;
      printError(`tspod: ${err.message}\n`);
      status = 1;
    }
  }
  return status;
}
