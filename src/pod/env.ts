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

/** The environment of a container, in order: defaults first, then its env list, expanded. */
export function containerEnv(pod: Pick<PodSpec, 'hostname'>, c: ContainerSpec): Map<string, string> {
  const env = new Map<string, string>([
    ['PATH', DEFAULT_PATH],
    ['HOSTNAME', pod.hostname],
    ['HOME', '/root'],
  ]);
  for (const { name, value } of c.env) env.set(name, expandVars(value, env));
  return env;
}

/** The container's argv: command then args, each with $(VAR) expanded. */
export function containerArgv(c: ContainerSpec, env: ReadonlyMap<string, string>): string[] {
  return [...c.command, ...c.args].map((a) => expandVars(a, env));
}

export function envStrings(env: ReadonlyMap<string, string>): string[] {
  return [...env].map(([k, v]) => `${k}=${v}`);
}
