// Compute resources, as a manifest and the CLI ask for them: Kubernetes' requests and limits
// of cpu and memory in its quantity syntax (250m, 1.5, 512Mi, 1G), and a pids limit (the
// kubelet's --pod-max-pids, podman's --pids-limit). Fields are checked in fields.ts;
// cgroup/limits.ts turns the amounts into cgroup files.
import { InputError } from '../errors.js';

/** The resources tspod enforces. */
export const RESOURCE_NAMES = ['cpu', 'memory'] as const;
export type ResourceName = (typeof RESOURCE_NAMES)[number];

export interface ResourceList {
  cpu?: string;
  memory?: string;
}

/** A container's (or, as Kubernetes 1.32's pod-level resources, a pod's) requests and limits. */
export interface Resources {
  requests?: ResourceList;
  limits?: ResourceList;
}

/** Every suffix of Kubernetes' quantity grammar, as a power of 2 or of 10. */
const BINARY: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

/**
 * A quantity as an exact fraction, rounded up to a whole number of `unit`ths (as Kubernetes'
 * Value and MilliValue round): 0.1 cpu in thousandths is 100, never 100.00000000000001.
 */
function quantity(v: unknown, path: string, scale: bigint): bigint {
  const s = typeof v === 'number' && Number.isFinite(v) ? String(v) : v;
  const m = typeof s === 'string' ? QUANTITY.exec(s) : null;
  if (!m) {
    throw new InputError(path, `${JSON.stringify(v)} is not a quantity (a number with an optional suffix: 250m, 1.5, 512Mi, 1G)`);
  }
  const [, sign, number, suffix = ''] = m;
  const [whole, frac = ''] = number.split('.');
  let num = BigInt(whole + frac || '0') * scale;
  let den = 10n ** BigInt(frac.length);
  if (suffix in BINARY) num *= 2n ** BigInt(BINARY[suffix]);
  else {
    const exp = suffix in DECIMAL ? DECIMAL[suffix] : Number(suffix.slice(1));
    if (Math.abs(exp) > 100) throw new InputError(path, `"${s}" is out of range`);
    if (exp >= 0) num *= 10n ** BigInt(exp);
    else den *= 10n ** BigInt(-exp);
  }
  if (sign === '-' && num !== 0n) throw new InputError(path, `"${s}" must not be negative`);
  return (num + den - 1n) / den;
}

/** The largest value any of these becomes in a cgroup file, and what a JS number holds exactly. */
const MAX = BigInt(Number.MAX_SAFE_INTEGER);

function bounded(n: bigint, path: string, v: unknown): number {
  if (n > MAX) throw new InputError(path, `${JSON.stringify(v)} is more than tspod can set`);
  return Number(n);
}

/** cpu in thousandths of a cpu (millicores). */
export function cpuMillis(v: unknown, path: string): number {
  return bounded(quantity(v, path, 1000n), path, v);
}

/** memory in bytes. */
export function memoryBytes(v: unknown, path: string): number {
  return bounded(quantity(v, path, 1n), path, v);
}

/** What cgroup/limits.ts applies: numbers, with Kubernetes' defaulting done. */
export interface ResourceAmounts {
  cpuRequestMillis?: number;
  cpuLimitMillis?: number;
  memoryLimitBytes?: number;
  pidsLimit?: number;
}

export function resourceAmounts(r: Resources | undefined, pidsLimit?: number): ResourceAmounts {
  const out: ResourceAmounts = {};
  const cpuLimit = r?.limits?.cpu;
  const cpuRequest = r?.requests?.cpu ?? cpuLimit;
  if (cpuRequest !== undefined) out.cpuRequestMillis = cpuMillis(cpuRequest, 'requests.cpu');
  if (cpuLimit !== undefined) out.cpuLimitMillis = cpuMillis(cpuLimit, 'limits.cpu');
  if (r?.limits?.memory !== undefined) out.memoryLimitBytes = memoryBytes(r.limits.memory, 'limits.memory');
  if (pidsLimit !== undefined) out.pidsLimit = pidsLimit;
  return out;
}

export const resourceAmount = (name: ResourceName, v: unknown, path: string): number =>
  name === 'cpu' ? cpuMillis(v, path) : memoryBytes(v, path);
