// Running one CNI plugin as the spec says: the configuration on stdin, the parameters in CNI_*
// variables, and nothing else of tspod's environment; the answer on stdout is a result, or, with
// a non-zero exit, the spec's error object. A plugin that does not answer in time is killed with
// its whole process group (it may be running host-local or iptables), and reaped.
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { join } from 'node:path';
import { TspodError } from '../errors.js';

/** The only variable of the caller's kind a plugin gets: bridge and portmap run iptables and ip. */
export const PLUGIN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Per plugin call; a plugin waiting on a lock (host-local, xtables) answers well within it. */
const DEFAULT_TIMEOUT_MS = 30_000;

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';

/** What a plugin prints with a non-zero exit (spec, "Error" result). */
export interface CniErrorObject {
  cniVersion?: string;
  code?: number;
  msg?: string;
  details?: string;
}

/** A plugin that failed: its error object's fields, and its stderr. One line of message. */
export class CniError extends TspodError {
  readonly network: string;
  /** The plugin's type (its executable's name). */
  readonly plugin: string;
  readonly command: CniCommand;
  /** The CNI error code (1-99 well known, 100+ the plugin's own); undefined when it gave none. */
  readonly cniCode: number | undefined;
  readonly msg: string;
  readonly details: string | undefined;
  readonly stderr: string;

  constructor(f: {
    network: string;
    plugin: string;
    command: CniCommand;
    msg: string;
    cniCode?: number;
    details?: string;
    stderr?: string;
  }) {
    const code = f.cniCode === undefined ? '' : ` (CNI error ${f.cniCode})`;
    const details = f.details && f.details !== f.msg ? `: ${f.details}` : '';
    const stderr = f.stderr ? ` [stderr: ${oneLine(f.stderr, 300)}]` : '';
    super(`network "${f.network}": plugin ${f.plugin} failed ${f.command}: ${oneLine(f.msg + details, 600)}${code}${stderr}`);
    this.name = 'CniError';
    this.network = f.network;
    this.plugin = f.plugin;
    this.command = f.command;
    this.cniCode = f.cniCode;
    this.msg = f.msg;
    this.details = f.details;
    this.stderr = f.stderr ?? '';
  }
}

/** Newlines and runs of blanks become one space; long texts keep their end, where Go puts the cause. */
export function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : '...' + flat.slice(flat.length - max);
}

/** A plugin type must be a file name: the spec forbids path separators. */
export function pluginTypeProblem(type: unknown): string | null {
  if (typeof type !== 'string' || type === '') return 'must be a non-empty string';
  if (type === '.' || type === '..' || type.includes('/') || type.includes('\0')) {
    return `"${type}" is not a file name`;
  }
  return null;
}

/** The executable for a plugin type: the first bin directory holding it wins, as in libcni. */
export function findPlugin(type: string, binDirs: readonly string[]): string | undefined {
  for (const dir of binDirs) {
    const path = join(dir, type);
    try {
      if (!statSync(path).isFile()) continue;
      accessSync(path, fsConstants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface ProcessOutcome {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

const MAX_STDOUT = 4 << 20;
const MAX_STDERR = 64 << 10;

/**
 * Runs `file` (a path, or a name found on env.PATH) with exactly `env`, writes `input` to its
 * stdin and collects its output. It gets a process group of its own, so a timeout kills what it
 * started too. Resolves once the process has been reaped; rejects only when it cannot start.
 */
export async function runProcess(
  file: string,
  args: string[],
  env: Record<string, string>,
  input: string,
  timeoutMs: number,
): Promise<ProcessOutcome> {
  // A plugin binary being replaced (package upgrade) gives ETXTBSY for a moment: libcni retries.
  for (let attempt = 0; ; attempt++) {
    try {
      return await runOnce(file, args, env, input, timeoutMs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ETXTBSY' || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
    }
  }
}

function runOnce(file: string, args: string[], env: Record<string, string>, input: string, timeoutMs: number): Promise<ProcessOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let started = false;
    const killGroup = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    child.on('spawn', () => (started = true));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < MAX_STDOUT) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-MAX_STDERR);
    });
    // A plugin may exit without reading its stdin: EPIPE then is not our failure.
    child.stdin.on('error', () => {});
    child.on('error', (err) => {
      if (started) return; // a later error (kill of a dead group) changes nothing
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      if (!started) return;
      // Whatever the plugin left in its group (a stuck iptables) must not outlive the call.
      if (timedOut) killGroup();
      resolve({ status, signal, stdout, stderr, timedOut });
    });
    child.stdin.end(input);
  });
}

export interface PluginInvocation {
  network: string;
  type: string;
  command: CniCommand;
  binDirs: readonly string[];
  /** The configuration written to stdin. */
  config: unknown;
  containerId?: string;
  /** '' when the namespace is gone (DEL only). */
  netns?: string;
  ifName?: string;
  /** CNI_ARGS, "K=V;K=V". */
  args?: string;
  timeoutMs?: number;
}

/** The environment of a plugin: PATH and the CNI_* parameters, nothing inherited. */
function pluginEnv(call: Omit<PluginInvocation, 'network' | 'type' | 'config'>): Record<string, string> {
  const env: Record<string, string> = { PATH: PLUGIN_PATH, CNI_COMMAND: call.command, CNI_PATH: call.binDirs.join(':') };
  if (call.containerId !== undefined) env.CNI_CONTAINERID = call.containerId;
  if (call.netns !== undefined) env.CNI_NETNS = call.netns;
  if (call.ifName !== undefined) env.CNI_IFNAME = call.ifName;
  if (call.args !== undefined && call.args !== '') env.CNI_ARGS = call.args;
  return env;
}

/**
 * Runs one plugin; resolves with its parsed stdout (undefined when it printed nothing), or
 * rejects with a CniError naming the network, the plugin and its message.
 */
export async function invokePlugin(call: PluginInvocation): Promise<unknown> {
  const fail = (msg: string, extra: { cniCode?: number; details?: string; stderr?: string } = {}) =>
    new CniError({ network: call.network, plugin: call.type, command: call.command, msg, ...extra });
  const path = findPlugin(call.type, call.binDirs);
  if (!path) throw fail(`not found in ${call.binDirs.join(', ')}`);
  const timeoutMs = call.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let out: ProcessOutcome;
  try {
    out = await runProcess(path, [], pluginEnv(call), JSON.stringify(call.config), timeoutMs);
  } catch (err) {
    throw fail(`cannot run ${path}: ${(err as Error).message}`);
  }
  const stderr = out.stderr.trim();
  if (out.timedOut) throw fail(`no answer within ${timeoutMs / 1000} s: killed`, { stderr });
  if (out.status !== 0) {
    const how = out.signal ? `killed by ${out.signal}` : `exit status ${out.status}`;
    const error = parseErrorObject(out.stdout);
    if (error) throw fail(error.msg || `failed with no message (${how})`, { cniCode: error.code, details: error.details, stderr });
    const text = out.stdout.trim();
    throw fail(text ? `${how}, and its output is not a CNI error object: ${text}` : `${how}, with no error object`, { stderr });
  }
  const text = out.stdout.trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw fail(`succeeded but printed something that is not JSON: ${oneLine(text, 200)}`, { stderr });
  }
}

/** The spec's error object, from a failed plugin's stdout; undefined when it is not one. */
export function parseErrorObject(stdout: string): CniErrorObject | undefined {
  let value: unknown;
  try {
    value = JSON.parse(stdout);
  } catch {
    return undefined;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.code !== 'number' && typeof v.msg !== 'string') return undefined;
  return {
    cniVersion: typeof v.cniVersion === 'string' ? v.cniVersion : undefined,
    code: typeof v.code === 'number' ? v.code : undefined,
    msg: typeof v.msg === 'string' ? v.msg : undefined,
    details: typeof v.details === 'string' && v.details !== '' ? v.details : undefined,
  };
}

/**
 * VERSION answers by plugin file. One binary gives one answer, so a monitor asks each plugin
 * once (an exec is 3.5-4 ms here, and a pod on the default network checks three); a file that
 * was replaced (another inode, size or mtime) is asked again.
 */
const versionAnswers = new Map<string, string[]>();

/** The spec versions a plugin supports, from its VERSION answer. */
export async function pluginVersions(
  network: string,
  type: string,
  binDirs: readonly string[],
  cniVersion: string,
  timeoutMs?: number,
): Promise<string[]> {
  const path = findPlugin(type, binDirs);
  const st = path === undefined ? undefined : statSync(path, { throwIfNoEntry: false });
  const key = st && `${path}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}\0${cniVersion}`;
  const known = key && versionAnswers.get(key);
  if (known) return known;
  const answer = await invokePlugin({ network, type, command: 'VERSION', binDirs, config: { cniVersion }, timeoutMs });
  const versions = (answer as { supportedVersions?: unknown } | undefined)?.supportedVersions;
  if (!Array.isArray(versions) || !versions.every((v) => typeof v === 'string')) {
    throw new CniError({ network, plugin: type, command: 'VERSION', msg: 'its answer has no supportedVersions list' });
  }
  if (key) versionAnswers.set(key, versions);
  return versions as string[];
}

/** "1.0.0" as [1, 0, 0]; undefined when it is not MAJOR.MINOR.PATCH. */
export function parseVersion(v: string): [number, number, number] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** Compares two MAJOR.MINOR.PATCH versions (both must parse). */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a)!;
  const y = parseVersion(b)!;
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
}
