// What a probe or a lifecycle hook does, once: a command run in the container (as tspod exec
// runs one: its namespaces, its cgroup, its user and privileges), a connection made from inside
// the pod's network namespace (so a pod with only lo is probed too), or a sleep.
import { closeSync, openSync } from 'node:fs';
import { isIPv6, Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import type { NativeBinding } from '../native/binding.js';
import type { LifecycleHandler, ProbeHandler } from '../pod/spec.js';
import type { PodRecord } from '../state/records.js';
import { execInContainer } from './exec.js';
import { LIFECYCLE_USER_AGENT, PROBE_USER_AGENT, grpcProbe, httpProbe, tcpProbe } from './probe-net.js';
import type { ProbeOutcome } from './probe.js';
import { describeExit, statusCode } from './process.js';
import { within } from './within.js';

/** What an exec handler's output may add to its event (the kubelet keeps 10 KiB). */
const OUTPUT_BYTES = 10 * 1024;

/** How long an exec handler's output is read after it exited. */
const OUTPUT_WAIT_MS = 100;

export interface HandlerTarget {
  binding: NativeBinding;
  /** The pod as exec sees it, with the one container to run a command in. */
  execView(): Pick<PodRecord, 'name' | 'spec' | 'state' | 'containers' | 'cgroup'>;
  container: string;
  /** The infra's pid: its network namespace is where connections are made. */
  infraPid: number;
  /** The pod's address; unset: 127.0.0.1. */
  podIP: string | undefined;
}

/**
 * Runs `h` once, within timeoutMs; never throws: a failure is an outcome with its reason. A hook
 * (`hook`) says so in its HTTP User-Agent, as the kubelet's do.
 */
export async function runHandler(
  t: HandlerTarget,
  h: ProbeHandler | LifecycleHandler,
  timeoutMs: number,
  hook = false,
): Promise<ProbeOutcome> {
  try {
    if (h.exec) return await execHandler(t, h.exec.command, timeoutMs);
    if ('sleep' in h && h.sleep) {
      await new Promise((r) => setTimeout(r, Math.min(h.sleep!.seconds * 1000, timeoutMs)));
      return { ok: true, message: `slept ${h.sleep.seconds} s` };
    }
    const hostOf = (a: { host?: string }) => a.host ?? t.podIP ?? '127.0.0.1';
    if (h.httpGet) {
      const host = hostOf(h.httpGet);
      const agent = hook ? LIFECYCLE_USER_AGENT : PROBE_USER_AGENT;
      return await httpProbe(inPod(t, host), { ...h.httpGet, host }, timeoutMs, agent);
    }
    if ('tcpSocket' in h && h.tcpSocket) {
      const host = hostOf(h.tcpSocket);
      return await tcpProbe(inPod(t, host), host, h.tcpSocket.port, timeoutMs);
    }
    if ('grpc' in h && h.grpc) {
      const host = hostOf({});
      return await grpcProbe(inPod(t, host), host, h.grpc.port, h.grpc.service, timeoutMs);
    }
    return { ok: false, message: 'no handler' };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

/**
 * A socket for `host` made in the pod's network namespace, through the infra's (opened for each
 * try: a pod's probes hold no fd between them).
 */
function inPod(t: HandlerTarget, host: string): () => Socket {
  return () => {
    const ns = openSync(`/proc/${t.infraPid}/ns/net`, 'r');
    try {
      const c = t.binding.constants;
      const family = isIPv6(host) ? c.AF_INET6 : c.AF_INET;
      return new Socket({ fd: t.binding.socketInNetns(ns, family, c.SOCK_STREAM), readable: true, writable: true });
    } finally {
      closeSync(ns);
    }
  };
}

/** The command in the container, its output (the first 10 KiB) kept for the event; killed at the timeout. */
async function execHandler(t: HandlerTarget, command: string[], timeoutMs: number): Promise<ProbeOutcome> {
  const [readEnd, writeEnd] = t.binding.pipe();
  const devNull = openSync('/dev/null', 'r');
  let proc;
  try {
    proc = execInContainer(t.binding, t.execView(), t.container, {
      command,
      stdio: [devNull, writeEnd, writeEnd],
      tty: false,
      parentDeathSignal: osConstants.signals.SIGKILL,
    });
  } catch (err) {
    closeSync(readEnd);
    return { ok: false, message: (err as Error).message };
  } finally {
    closeSync(writeEnd);
    closeSync(devNull);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const output = new Socket({ fd: readEnd, readable: true, writable: false });
  output.on('data', (b: Buffer) => {
    if (size < OUTPUT_BYTES) chunks.push(b.subarray(0, OUTPUT_BYTES - size));
    size += b.length;
  });
  output.on('error', () => {});
  const closed = new Promise((r) => output.once('close', r));
  const done = await within(proc.exited, timeoutMs);
  if (!done) proc.signal(osConstants.signals.SIGKILL);
  const status = await proc.exited;
  // The rest of its output, briefly: a child it forked may hold the pipe open.
  await within(closed, OUTPUT_WAIT_MS);
  output.destroy();
  const text = Buffer.concat(chunks).toString('utf8').trim().replace(/\s+/g, ' ');
  if (!done) return { ok: false, message: `command timed out after ${timeoutMs / 1000} s` };
  if (status.error === undefined && statusCode(status) === 0) return { ok: true, message: text };
  return { ok: false, message: `command ${describeExit(status)}${text ? `: ${text}` : ''}` };
}
