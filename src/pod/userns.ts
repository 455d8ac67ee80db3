// A pod's user namespace (Kubernetes' hostUsers: false, tspod's --userns auto): the policy.
// Each such pod gets 65,536 host ids of its own, uids and gids alike, from the range the host
// gives tspod (TSPOD_USERNS_RANGE); its root is the first of them, an unprivileged id on the
// host. The allocation lives in the pods' records: a range is taken under the state's names
// lock, by the first slot no record holds, and is free again once the record is removed.
import { InputError } from '../errors.js';
import type { IdRange, PodSpec } from './spec.js';

/** Ids per pod: what Kubernetes gives (a full 16-bit range, so an image's ids up to 65535 map). */
export const POD_IDS = 65536;

/**
 * The default range: 2^31 up, 32,767 pods' worth. It stays clear of the ids people and
 * services have (below 2^31; systemd's dynamic users and nspawn's are below too).
 */
export const DEFAULT_USERNS_RANGE: IdRange = { hostId: 2 ** 31, size: 2 ** 31 - POD_IDS };

/** The user namespace's maps, as /proc/PID/uid_map and gid_map take them. */
export function idMapText(r: IdRange): string {
  return `0 ${r.hostId} ${r.size}\n`;
}

/** TSPOD_USERNS_RANGE=START:COUNT: the host ids tspod allocates from, whole pods' worth of them. */
export function usernsRangeOption(value: string | undefined, option: string): IdRange {
  if (value === undefined || value === '') return DEFAULT_USERNS_RANGE;
  const m = /^(\d+):(\d+)$/.exec(value);
  const hostId = m ? Number(m[1]) : NaN;
  const size = m ? Number(m[2]) : NaN;
  // The kernel's ids are 32 bits, and (uid_t)-1 means "no id".
  if (!m || hostId < 1 || size < POD_IDS || hostId + size > 2 ** 32 - 1) {
    throw new InputError(option, `"${value}" is not START:COUNT (START above 0, COUNT at least ${POD_IDS}, their sum below 2^32-1)`);
  }
  return { hostId, size };
}

/**
 * Checked before anything is made. As Kubernetes' validation: a pod in a user namespace of its
 * own cannot be in the host's network, PID or IPC namespace, nor in namespaces owned by another
 * user namespace (a joined one), where its root would have no say.
 */
export function checkUserNamespace(spec: Pick<PodSpec, 'hostUsers' | 'network' | 'hostPID' | 'hostIPC' | 'joinNamespaces'>): void {
  if (spec.joinNamespaces?.user && spec.hostUsers !== false) {
    throw new InputError('joinNamespaces.user', 'needs hostUsers: false (--userns ns:PATH and pod:NAME set both)');
  }
  if (spec.hostUsers !== false) return;
  const hostNs = [spec.network.mode === 'host' && 'hostNetwork', spec.hostPID && 'hostPID', spec.hostIPC && 'hostIPC'].filter(Boolean);
  if (hostNs.length)
    throw new InputError('hostUsers', `false cannot go with ${hostNs.join(', ')}: the host's namespaces are not the pod's`);
  const joined = Object.keys(spec.joinNamespaces ?? {}).filter((ns) => ns !== 'user');
  if (joined.length) {
    throw new InputError('hostUsers', `false cannot go with joined namespaces (${joined.join(', ')}): another user namespace owns them`);
  }
}

/**
 * The first 65,536 ids of `range` that no range in `taken` overlaps: the pod's. An InputError
 * naming the setting when every slot is held.
 */
export function allocateIdRange(range: IdRange, taken: readonly IdRange[]): IdRange {
  const slots = Math.floor(range.size / POD_IDS);
  for (let i = 0; i < slots; i++) {
    const hostId = range.hostId + i * POD_IDS;
    if (!taken.some((t) => t.hostId < hostId + POD_IDS && hostId < t.hostId + t.size)) return { hostId, size: POD_IDS };
  }
  throw new InputError(
    'hostUsers',
    `false: no free range of ${POD_IDS} ids left in TSPOD_USERNS_RANGE ${range.hostId}:${range.size} ` +
      `(${slots} of them, all held by pods; remove one, or widen the range)`,
  );
}

/**
 * Who a process in the pod's user namespace is when nothing else is asked: its root. (Entered
 * by setns, a process keeps the host's ids, which the namespace does not map: it must change.)
 */
export const NAMESPACE_ROOT = { uid: 0, gid: 0, groups: [] };

/**
 * The range of a user namespace the pod joins (--userns ns:PATH or pod:NAME), from its uid_map
 * and gid_map: tspod maps an image's ids through one range from 0, the same for both.
 */
export function joinedIdRange(maps: { uid: string; gid: string }, option: string): IdRange {
  const parse = (text: string) =>
    text
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/).map(Number));
  const uid = parse(maps.uid);
  const gid = parse(maps.gid);
  const [inside, hostId, size] = uid[0] ?? [];
  if (uid.length !== 1 || gid.length !== 1 || inside !== 0 || gid[0].join() !== uid[0].join() || !(size >= 1)) {
    const text = maps.uid.trim().replace(/\s+/g, ' ') || 'none';
    throw new InputError(option, `its uid_map (${text}) is not one range from 0, the same as its gid_map: tspod maps images through one`);
  }
  return { hostId, size };
}

/** An id inside the pod's user namespace as the host sees it (the same id without one). */
export function hostId(spec: Pick<PodSpec, 'userNamespace'>, id: number): number {
  return (spec.userNamespace?.hostId ?? 0) + id;
}
