// A command run inside a running container (`tspod exec`): it joins every namespace of the
// container's process (net, ipc, uts and pid, shared with the pod or not, and the container's
// own mount namespace with its /proc) in one setns on the container's pidfd, and is spawned as
// a child of the caller (the spawn path's CLONE_PARENT), so its real exit status is the
// caller's to read. Nothing is created: no namespace, no mount.
import { closeSync } from 'node:fs';
import { PodCgroups } from '../cgroup/pod.js';
import { EXIT_CANNOT_RUN, EXIT_NOT_FOUND, StartFailed, TspodError } from '../errors.js';
import type { CapabilitySets, CompiledSeccomp, NativeBinding, NativeConstants, SpawnRequest } from '../native/binding.js';
import { securityOf, spawnInUserNamespace } from './container.js';
import { compileSeccomp } from './seccomp.js';
import { DEFAULT_PATH, containerEnv, envStrings } from '../pod/env.js';
import type { PodSpec } from '../pod/spec.js';
import { NAMESPACE_ROOT } from '../pod/userns.js';
import type { ContainerRecord, ExecContext, PodRecord } from '../state/records.js';
import { containerOf } from '../state/store.js';
import { openProcess, PodProcess } from './process.js';

export interface ExecRequestOptions {
  argv: string[];
  /** The program: with a '/', as given (relative to cwd); without, searched on env's PATH. */
  path: string;
  /** 'NAME=value' strings: the whole environment. */
  env: string[];
  cwd: string;
  /** Caller fds that become the command's 0, 1, 2. */
  stdio: number[];
  /** stdio[0] is a terminal that becomes the command's controlling terminal. */
  tty: boolean;
  parentDeathSignal?: number;
  user?: { uid: number; gid: number; groups: number[] };
  /** The container's: a command run in it has no more privileges than it. */
  capabilities?: CapabilitySets;
  noNewPrivileges?: boolean;
  /** The pod has a time namespace of its own: the command joins it too. */
  timeNamespace?: boolean;
  /** The container's seccomp filter. */
  seccomp?: CompiledSeccomp;
  /** The container's cgroup, which the command joins (stop then ends it with the container). */
  joinCgroups?: SpawnRequest['joinCgroups'];
}

/** The PATH search the child does itself: the program lives in the container's mount namespace. */
function searchPathOf(env: string[]): string[] {
  const path =
    env
      .filter((e) => e.startsWith('PATH='))
      .pop()
      ?.slice('PATH='.length) ?? DEFAULT_PATH;
  return path.split(':');
}

export function execRequest(c: NativeConstants, target: { pid: number; pidfd: number }, opts: ExecRequestOptions): SpawnRequest {
  return {
    path: opts.path,
    searchPath: opts.path.includes('/') ? undefined : searchPathOf(opts.env),
    argv: opts.argv,
    env: opts.env,
    cwd: opts.cwd,
    stdio: opts.stdio,
    // One setns on the pidfd enters all of them at once, and a pid reused since the pidfd was
    // opened cannot lead the command elsewhere.
    joinNamespaces: [
      {
        fd: target.pidfd,
        type:
          c.CLONE_NEWNET |
          c.CLONE_NEWIPC |
          c.CLONE_NEWUTS |
          c.CLONE_NEWPID |
          c.CLONE_NEWNS |
          (opts.joinCgroups ? c.CLONE_NEWCGROUP : 0) |
          (opts.timeNamespace ? c.CLONE_NEWTIME : 0),
        label: `container pid ${target.pid} (net+ipc+uts+pid+mnt${opts.joinCgroups ? '+cgroup' : ''}${opts.timeNamespace ? '+time' : ''})`,
      },
    ],
    newNamespaces: 0,
    ...(opts.joinCgroups ? { joinCgroups: opts.joinCgroups } : {}),
    parentDeathSignal: opts.parentDeathSignal,
    ...(opts.user ? { user: opts.user } : {}),
    ...(opts.capabilities ? { capabilities: opts.capabilities } : {}),
    ...(opts.noNewPrivileges ? { noNewPrivileges: true } : {}),
    ...(opts.seccomp ? { seccomp: opts.seccomp } : {}),
    // Its own session: signals meant for the caller's terminal do not reach it, and a tty can
    // become its controlling terminal.
    newSession: true,
    controllingTerminal: opts.tty,
  };
}

/**
 * What a command run in a container gets: the environment, directory and user the container
 * was started with (recorded when its image or securityContext add to its spec), plus TERM on a
 * terminal.
 */
export function execContext(
  pod: Pick<PodSpec, 'hostname'>,
  c: Pick<ContainerRecord, 'spec' | 'exec'>,
  term: string | undefined,
): ExecContext {
  const ctx = c.exec ?? { env: envStrings(containerEnv(pod, c.spec)), cwd: c.spec.workingDir ?? '/' };
  if (term === undefined || ctx.env.some((e) => e.startsWith('TERM='))) return ctx;
  return { ...ctx, env: [...ctx.env, `TERM=${term}`] };
}

/** The container to exec in; throws (125) when it is not there or not running. */
export function execTarget(pod: Pick<PodRecord, 'name' | 'state' | 'containers'>, name: string): ContainerRecord {
  const container = containerOf(pod, name);
  if (pod.state !== 'running' && pod.state !== 'creating') {
    throw new TspodError(`container ${name} of pod ${pod.name} is not running: the pod is ${pod.state}`);
  }
  if (container.state !== 'running' || !container.process) {
    throw new TspodError(`container ${name} of pod ${pod.name} is not running (it is ${container.state})`);
  }
  return container;
}

export interface ExecOptions {
  command: string[];
  /** The command's 0, 1, 2. */
  stdio: number[];
  /** stdio[0] is a pty slave: it becomes the controlling terminal, and TERM is set. */
  tty: boolean;
  /** TERM with tty when the container does not set one (the caller's, or xterm). */
  term?: string;
  parentDeathSignal?: number;
}

/**
 * Starts `opts.command` in the running container `containerName` of `pod`. The container's
 * process is opened by pidfd and checked against its recorded start time first, so a pid reused
 * since the record was written is never entered. The command's program is found by the child
 * on the container's PATH, in the container's mount namespace; errors say which container.
 */
export function execInContainer(
  binding: NativeBinding,
  pod: Pick<PodRecord, 'name' | 'spec' | 'state' | 'containers' | 'cgroup'>,
  containerName: string,
  opts: ExecOptions,
): PodProcess {
  const container = execTarget(pod, containerName);
  const who = `container ${containerName} of pod ${pod.name}`;
  if (!opts.command.length) throw new TspodError(`${who}: no command to run`);
  const ctx = execContext(pod.spec, container, opts.tty ? (opts.term ?? 'xterm') : undefined);
  const pidfd = openProcess(binding, container.process!);
  if (pidfd === undefined) throw new TspodError(`${who} is not running: its process (pid ${container.process!.pid}) has exited`);
  let joins: SpawnRequest['joinCgroups'];
  try {
    joins = pod.cgroup && PodCgroups.adopt(binding, pod.cgroup).joins(containerName);
    const { seccomp, ...security } = securityOf(container.spec, ctx.user?.uid ?? 0);
    const request = execRequest(
      binding.constants,
      { pid: container.process!.pid, pidfd },
      {
        argv: opts.command,
        path: opts.command[0],
        env: ctx.env,
        cwd: ctx.cwd,
        stdio: opts.stdio,
        tty: opts.tty,
        parentDeathSignal: opts.parentDeathSignal,
        ...(ctx.user ? { user: ctx.user } : pod.spec.userNamespace ? { user: NAMESPACE_ROOT } : {}),
        ...(joins ? { joinCgroups: joins } : {}),
        ...(pod.spec.timeOffsets ? { timeNamespace: true } : {}),
        ...security,
        ...(seccomp ? { seccomp: compileSeccomp(binding, seccomp) } : {}),
      },
    );
    try {
      const target = { pid: container.process!.pid, pidfd };
      return new PodProcess(binding, spawnInUserNamespace(binding, target, pod.spec.userNamespace, request));
    } catch (err) {
      throw execFailure(err, who, request);
    }
  } finally {
    // Its pidfd was needed only for the join; its exit is the supervisor's to see.
    closeSync(pidfd);
    joins?.forEach((j) => closeSync(j.fd));
  }
}

/** A failed spawn as the user should read it: 127 not found, 126 cannot run, else 125. */
function execFailure(err: unknown, who: string, request: SpawnRequest): unknown {
  const e = err as NodeJS.ErrnoException;
  if (!(err instanceof Error) || e.syscall === undefined) return err;
  if (e.syscall === 'setns' && e.code === 'ESRCH') {
    return new StartFailed(`${who} is not running: its process has exited`, 125, e);
  }
  if (e.syscall !== 'execve') return new StartFailed(`${who}: ${e.message}`, 125, e);
  const program = request.path;
  if (e.code === 'ENOENT') {
    const where = program.includes('/')
      ? `${program} does not exist in the container`
      : `"${program}" is not in the container's PATH=${request.searchPath!.join(':')}`;
    return new StartFailed(`${who}: command not found: ${where}`, EXIT_NOT_FOUND, e);
  }
  if (e.code === 'EACCES') {
    return new StartFailed(
      `${who}: cannot run ${e.path ?? program}: permission denied (not executable, or a directory)`,
      EXIT_CANNOT_RUN,
      e,
    );
  }
  return new StartFailed(`${who}: cannot run ${e.path ?? program}: ${e.message}`, EXIT_CANNOT_RUN, e);
}
