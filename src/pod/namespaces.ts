// Which namespaces a pod has of its own and which it takes from the host or from elsewhere,
// checked as a whole before anything is created: hostPID and hostIPC (Kubernetes' fields,
// podman's --pid host and --ipc host) put the infra in the host's, ns:PATH and pod:NAME have it
// join an existing one, and then the containers must join the infra's, or they would get new
// ones nobody asked for. Also a time namespace's clock offsets (--time-offset).
import { InputError } from '../errors.js';
import { isAbsolute } from 'node:path';
import { dns1123LabelProblem } from './names.js';
import type { JoinableNamespace, NamespaceSource, PodSpec, TimeOffsets } from './spec.js';

export function checkPodNamespaces(spec: Pick<PodSpec, 'share' | 'hostPID' | 'hostIPC' | 'joinNamespaces' | 'network'>): void {
  if (spec.hostPID && !spec.share.includes('pid')) {
    throw new InputError('hostPID', "puts the pod in the host's PID namespace: its containers must share it (--share with pid)");
  }
  if (spec.hostIPC && !spec.share.includes('ipc')) {
    throw new InputError('hostIPC', "puts the pod in the host's IPC namespace: its containers must share it (--share with ipc)");
  }
  for (const [ns, source] of Object.entries(spec.joinNamespaces ?? {}) as [JoinableNamespace, NamespaceSource][]) {
    if (ns === 'user') continue; // pod/userns.ts
    const option = `--${ns === 'net' ? 'network' : ns} ${sourceText(source)}`;
    if (!spec.share.includes(ns))
      throw new InputError(option, `joins a ${ns} namespace for the pod: its containers must share it (--share with ${ns})`);
    const host = { net: spec.network.mode === 'host', pid: spec.hostPID, ipc: spec.hostIPC, uts: false }[ns];
    if (host) throw new InputError(option, `contradicts the host's ${ns} namespace asked for too`);
    if (ns === 'net' && spec.network.mode === 'cni') {
      throw new InputError(option, "a network namespace tspod joins is its owner's to configure: no CNI network is attached to it");
    }
  }
}

/** NAMESPACE options' ns:PATH and pod:NAME (podman's ns:PATH; pod: for another tspod pod). */
export function namespaceSource(value: string, option: string): NamespaceSource | undefined {
  if (value.startsWith('ns:')) {
    const path = value.slice(3);
    if (!isAbsolute(path)) throw new InputError(option, `"${value}": ns: takes an absolute path (/run/netns/NAME, /proc/PID/ns/net)`);
    return { path };
  }
  if (value.startsWith('pod:')) {
    const problem = dns1123LabelProblem(value.slice(4));
    if (problem) throw new InputError(option, `"${value}": ${problem}`);
    return { pod: value.slice(4) };
  }
  return undefined;
}

export function sourceText(s: NamespaceSource): string {
  return 'path' in s ? `ns:${s.path}` : `pod:${s.pod}`;
}

/** --pid, --ipc, --uts: podman's words: host, ns:PATH, pod:NAME, or private (the pod's own, the default). */
export function namespaceOption(option: string, value: string | undefined): 'host' | NamespaceSource | undefined {
  if (value === undefined || value === 'private') return undefined;
  if (value === 'host') return 'host';
  const source = namespaceSource(value, option);
  if (source) return source;
  throw new InputError(option, `"${value}" is not one tspod takes: host, ns:PATH, pod:NAME, or private (the pod's own, the default)`);
}

/** The clocks a time namespace can shift (CLOCK_MONOTONIC and CLOCK_BOOTTIME, with their variants). */
const CLOCKS = ['monotonic', 'boottime'] as const;
// The kernel keeps an offset within half of its largest time (KTIME_SEC_MAX / 2); 2^40 s (some
// 35,000 years) is far inside it, and a clock made negative is the kernel's to refuse.
const MAX_OFFSET = 2 ** 40;

/** --time-offset monotonic=SECONDS,boottime=SECONDS (either or both; negative allowed). */
export function timeOffsetsOption(value: string, option = '--time-offset'): TimeOffsets {
  const out: TimeOffsets = {};
  for (const part of value.split(',')) {
    const m = /^(\w+)=(-?\d+)$/.exec(part.trim());
    if (!m || !(CLOCKS as readonly string[]).includes(m[1])) {
      throw new InputError(option, `"${part}" is not CLOCK=SECONDS (clocks: ${CLOCKS.join(', ')})`);
    }
    const secs = Number(m[2]);
    if (!Number.isSafeInteger(secs) || Math.abs(secs) > MAX_OFFSET)
      throw new InputError(option, `${m[1]}=${m[2]} is too far (at most 2^40 seconds)`);
    out[m[1] as (typeof CLOCKS)[number]] = secs;
  }
  return out;
}

/** The offsets as /proc/self/timens_offsets takes them: "CLOCK SECONDS NANOSECONDS" lines. */
export function timensOffsetsText(offsets: TimeOffsets): string {
  return CLOCKS.map((c) => `${c} ${offsets[c] ?? 0} 0\n`).join('');
}
