// Which namespaces a pod has of its own and which it takes from the host or from elsewhere,
// checked as a whole before anything is created: hostPID and hostIPC (Kubernetes' fields,
// podman's --pid host and --ipc host) put the infra in the host's, and then the containers
// must join the infra's, or they would get new ones the field did not ask for.
import { InputError } from '../errors.js';
import type { PodSpec, TimeOffsets } from './spec.js';

export function checkPodNamespaces(spec: Pick<PodSpec, 'share' | 'hostPID' | 'hostIPC'>): void {
  if (spec.hostPID && !spec.share.includes('pid')) {
    throw new InputError('hostPID', "puts the pod in the host's PID namespace: its containers must share it (--share with pid)");
  }
  if (spec.hostIPC && !spec.share.includes('ipc')) {
    throw new InputError('hostIPC', "puts the pod in the host's IPC namespace: its containers must share it (--share with ipc)");
  }
}

/** --pid and --ipc: podman's words; only "host" asks for something (the default is the pod's own). */
export function hostNamespaceOption(option: '--pid' | '--ipc', value: string | undefined): boolean | undefined {
  if (value === undefined || value === 'private') return undefined;
  if (value === 'host') return true;
  throw new InputError(option, `"${value}" is not one tspod takes: host, or private (the pod's own, the default)`);
}

/** The clocks a time namespace can shift (CLOCK_MONOTONIC and CLOCK_BOOTTIME, with their variants). */
const CLOCKS = ['monotonic', 'boottime'] as const;
// The kernel keeps an offset within half of its largest time (KTIME_SEC_MAX / 2); a day's
// multiples of years is far inside it, and a clock made negative is the kernel's to refuse.
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
