// A container's environment is built from nothing: the pod's defaults, then its own env list.
// tspod's own environment never reaches it.
import type { ContainerSpec, PodSpec } from './spec.js';

/** containerd's default PATH for containers. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Kubernetes' $(VAR) expansion: $(NAME) becomes NAME's value when it is defined, $$ becomes $,
 * and anything else (an undefined name, a lone $) is left as written.
 */
export function expandVars(text: string, vars: ReadonlyMap<string, string>): string {
  let out = '';
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
      const close = text.indexOf(')', i + 2);
      const name = close < 0 ? undefined : text.slice(i + 2, close);
      if (name !== undefined && vars.has(name)) {
        out += vars.get(name);
        i = close;
      } else {
        out += ch;
      }
    } else {
      out += ch;
    }
  }
  return out;
}

/**
 * The environment of a container, in order: defaults, then its image's Env ("NAME=value"),
 * then its own env list, expanded; later entries win.
 */
export function containerEnv(pod: Pick<PodSpec, 'hostname'>, c: ContainerSpec, imageEnv: readonly string[] = []): Map<string, string> {
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
  for (const { name, value } of c.env) env.set(name, expandVars(value, env));
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
  const command = c.command.map((a) => expandVars(a, env));
  const args = c.args.map((a) => expandVars(a, env));
  if (command.length || !image) return [...command, ...args];
  return [...(image.Entrypoint ?? []), ...(args.length ? args : (image.Cmd ?? []))];
}

export function envStrings(env: ReadonlyMap<string, string>): string[] {
  return [...env].map(([k, v]) => `${k}=${v}`);
}
