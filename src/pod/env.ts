// A container's environment is built from nothing: the pod's defaults, then its own env list.
// tspod's own environment never reaches it.
import { InputError } from '../errors.js';
import { downwardValue, type DownwardFacts } from './downward.js';
import { envNameProblem } from './names.js';
import { envFromRef, envValueOf, keyRefOf, noObjects, type PodObjects } from './objects.js';
import type { ContainerSpec, PodSpec } from './spec.js';

/** containerd's default PATH for containers. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The kernel's limits for what execve takes (include/uapi/linux/binfmts.h, fs/exec.c): one
 * argument or environment string at most MAX_ARG_STRLEN (32 pages: 131,072 bytes with its NUL);
 * all of them together at most a quarter of the stack limit, 2 MiB with the usual 8 MiB.
 */
export const MAX_ARG_STRLEN = 131_072;
export const MAX_ARGS_BYTES = 2 * 1024 * 1024;

/**
 * Kubernetes' $(VAR) expansion: $(NAME) becomes NAME's value when it is defined, $$ becomes $,
 * and anything else (an undefined name, a lone $) is left as written. Linear in the text: an
 * unterminated "$(" is not looked for again at every "$(" after it, and a "$(" whose ")" is
 * further away than the longest name is not looked up. `where` names the string
 * in the error when the result would be longer than execve takes (values that repeat each
 * other grow exponentially: they are stopped at the limit, not built first).
 */
export function expandVars(text: string, vars: ReadonlyMap<string, string>, where = 'a value'): string {
  let out = '';
  // The next ')' at or after the current position; -1 once there is none left in the text.
  let close = -2;
  // A "$(" whose ')' is further than the longest name cannot name a variable: not looked up.
  let longest = 0;
  for (const name of vars.keys()) longest = Math.max(longest, name.length);
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch !== '$' || i + 1 >= text.length) {
      out += ch;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i++;
    } else if (next === '(') {
      if (close !== -1 && close < i + 2) close = text.indexOf(')', i + 2);
      const name = close < 0 || close - (i + 2) > longest ? undefined : text.slice(i + 2, close);
      if (name !== undefined && vars.has(name)) {
        out += vars.get(name);
        i = close;
        // UTF-16 units never outnumber UTF-8 bytes: past this, the bytes are too.
        if (out.length >= MAX_ARG_STRLEN) throw tooLong(where);
      } else {
        out += ch;
      }
    } else {
      out += ch;
    }
  }
  if (out.length >= MAX_ARG_STRLEN / 3 && Buffer.byteLength(out) >= MAX_ARG_STRLEN) throw tooLong(where);
  return out;
}

function tooLong(where: string): InputError {
  return new InputError(where, `its $(VAR) expansion is ${MAX_ARG_STRLEN} bytes or more: longer than execve takes (MAX_ARG_STRLEN)`);
}

/** All of a process's argv and environment must fit in what execve takes. */
export function checkArgsSize(argv: readonly string[], env: readonly string[], where: string): void {
  let bytes = 0;
  for (const s of [...argv, ...env]) bytes += Buffer.byteLength(s) + 1;
  if (bytes > MAX_ARGS_BYTES) {
    throw new InputError(where, `its command and environment take ${bytes} bytes: more than execve takes (${MAX_ARGS_BYTES}, ARG_MAX)`);
  }
}

/**
 * The environment of a container, in order: defaults, then its image's Env ("NAME=value"),
 * then its envFrom's objects, then its own env list, expanded; later entries win. A variable from
 * the downward API takes its value from `downward` (the whole pod and where it runs): empty
 * without it; one from a ConfigMap or Secret from `objects`, the pod's copies.
 */
export function containerEnv(
  pod: Pick<PodSpec, 'hostname'>,
  c: ContainerSpec,
  imageEnv: readonly string[] = [],
  downward?: { pod: PodSpec; facts: () => DownwardFacts },
  objects: PodObjects = noObjects(),
): Map<string, string> {
  // Read from the host only when a variable asks (the default route, the host name).
  let facts: DownwardFacts | undefined;
  const env = new Map<string, string>([
    ['PATH', DEFAULT_PATH],
    ['HOSTNAME', pod.hostname],
    ['HOME', '/root'],
  ]);
  for (const kv of imageEnv) {
    const eq = kv.indexOf('=');
    if (eq > 0) env.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  env.set('HOSTNAME', pod.hostname);
  // Kubernetes: envFrom, in order, then env; a key that is no variable name is skipped.
  for (const e of c.envFrom ?? []) {
    const { kind, ref } = envFromRef(e);
    const obj = objects[kind][ref.name];
    for (const key of obj ? Object.keys(obj.data) : []) {
      const value = envValueOf(obj!, key);
      const name = `${e.prefix ?? ''}${key}`;
      if (value !== undefined && !envNameProblem(name)) env.set(name, value);
    }
  }
  for (const { name, value, valueFrom } of c.env) {
    const keyRef = valueFrom && keyRefOf(valueFrom);
    if (keyRef) {
      const obj = objects[keyRef.kind][keyRef.ref.name];
      const v = obj && envValueOf(obj, keyRef.ref.key);
      // Missing: optional (podObjects refused the pod otherwise), so no variable.
      if (v !== undefined) env.set(name, v);
    } else if (valueFrom) env.set(name, downward ? downwardValue(downward.pod, c, valueFrom, (facts ??= downward.facts())) : '');
    else env.set(name, expandVars(value, env, `container ${c.name}: env ${name}`));
  }
  return env;
}

/**
 * The container's argv, by Kubernetes' rules with an image: command replaces the Entrypoint
 * (and drops the Cmd), args replace the Cmd. Its own command and args get $(VAR) expanded.
 */
export function containerArgv(
  c: ContainerSpec,
  env: ReadonlyMap<string, string>,
  image?: { Entrypoint?: string[] | null; Cmd?: string[] | null },
): string[] {
  const command = c.command.map((a, i) => expandVars(a, env, `container ${c.name}: command[${i}]`));
  const args = c.args.map((a, i) => expandVars(a, env, `container ${c.name}: args[${i}]`));
  if (command.length || !image) return [...command, ...args];
  return [...(image.Entrypoint ?? []), ...(args.length ? args : (image.Cmd ?? []))];
}

export function envStrings(env: ReadonlyMap<string, string>): string[] {
  return [...env].map(([k, v]) => `${k}=${v}`);
}
