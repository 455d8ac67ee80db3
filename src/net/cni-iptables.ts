// iptables state that CNI plugins leave behind, and its removal.
//
// Two kinds, measured with containernetworking-plugins 1.1.1 (iptables-nft 1.8.9):
// - Shared chains, created by the first ADD and never removed by any DEL: portmap's
//   CNI-HOSTPORT-DNAT/-MASQ/-SETMARK (nat) with their jumps from PREROUTING, OUTPUT and
//   POSTROUTING; the firewall plugin's CNI-FORWARD and CNI-ADMIN (filter) with the jump from
//   FORWARD. cleanupSharedChains() removes them once no container uses them.
// - bridge's (and ptp's) per-container ipMasq chain, "CNI-" + 24 hex digits of
//   sha512(network name + container ID), which its DEL removes only when it finds the
//   container's interface: with the namespace gone (or the interface deleted) it leaks
//   (containernetworking/plugins#810). removeMasqueradeChain() removes it after a DEL.
//
// Every removal is one iptables-restore --noflush transaction that deletes exactly the rules
// just listed and then the chains, without flushing: if anything changed in between (a
// concurrent ADD), a -D misses or a -X finds its chain busy, and the whole transaction is
// rejected, leaving everything as it was.
import { createHash } from 'node:crypto';
import { TspodError } from '../errors.js';
import { PLUGIN_PATH, oneLine, runProcess } from './cni-exec.js';

export type IpFamily = 4 | 6;
const TOOL_TIMEOUT_MS = 30_000;

/** One table of iptables-save output: its chains and its rules ("-A CHAIN ..." lines, as printed). */
export interface SavedTable {
  chains: Set<string>;
  rules: string[];
}

/** The tables of an iptables-save dump. */
export function parseSave(text: string): Map<string, SavedTable> {
  const tables = new Map<string, SavedTable>();
  let current: SavedTable | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      current = { chains: new Set(), rules: [] };
      tables.set(line.slice(1).trim(), current);
    } else if (!current) {
      continue;
    } else if (line.startsWith(':')) {
      current.chains.add(line.slice(1).split(' ')[0]);
    } else if (line.startsWith('-A ')) {
      current.rules.push(line);
    }
  }
  return tables;
}

/** The chain a "-A CHAIN ..." rule is in. */
const ruleChain = (rule: string): string => rule.split(' ')[1];

/** The chain a rule jumps (or goes) to, if any. */
function ruleTarget(rule: string): string | undefined {
  return / -[jg] (\S+)(?: |$)/.exec(rule)?.[1];
}

const env = { PATH: PLUGIN_PATH };

/** iptables-save (or ip6tables-save) output; null when the tool is not installed. */
async function iptablesSave(family: IpFamily, table?: string): Promise<string | null> {
  const tool = family === 4 ? 'iptables-save' : 'ip6tables-save';
  let out;
  try {
    out = await runProcess(tool, table ? ['-t', table] : [], env, '', TOOL_TIMEOUT_MS);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  // A table the kernel does not have is an error for -t; it holds nothing of CNI's either.
  if (out.status !== 0) return table ? '' : failTool(tool, out.stderr);
  return out.stdout;
}

function failTool(tool: string, stderr: string): never {
  throw new TspodError(`${tool} failed: ${oneLine(stderr, 300) || 'no message'}`);
}

async function iptablesRestore(family: IpFamily, script: string): Promise<void> {
  const tool = family === 4 ? 'iptables-restore' : 'ip6tables-restore';
  const out = await runProcess(tool, ['-w', '10', '--noflush'], env, script, TOOL_TIMEOUT_MS);
  if (out.status !== 0) failTool(tool, out.stderr || out.stdout);
}

/**
 * The restore script that removes `chains` from `table`: the rules elsewhere that jump to them,
 * their own rules, then the chains. Nothing is flushed: see the header.
 */
export function removalScript(tableName: string, table: SavedTable, chains: Set<string>): string {
  const lines = [`*${tableName}`];
  for (const rule of table.rules) {
    const target = ruleTarget(rule);
    if (!chains.has(ruleChain(rule)) && target && chains.has(target)) lines.push('-D' + rule.slice(2));
  }
  for (const rule of table.rules) {
    if (chains.has(ruleChain(rule))) lines.push('-D' + rule.slice(2));
  }
  for (const chain of chains) lines.push(`-X ${chain}`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** The name bridge and ptp give a container's ipMasq chain (plugins/pkg/utils FormatChainName). */
export function masqueradeChainName(network: string, containerId: string): string {
  return (
    'CNI-' +
    createHash('sha512')
      .update(network + containerId)
      .digest('hex')
      .slice(0, 24)
  );
}

/**
 * Removes the container's ipMasq chain and the POSTROUTING rules that jump to it, in both
 * families, when a DEL left them. Returns what it removed ("ipv4 nat CNI-...").
 */
export async function removeMasqueradeChain(network: string, containerId: string): Promise<string[]> {
  const chain = masqueradeChainName(network, containerId);
  const removed: string[] = [];
  for (const family of [4, 6] as const) {
    const text = await iptablesSave(family, 'nat');
    const nat = text ? parseSave(text).get('nat') : undefined;
    if (!nat?.chains.has(chain)) continue;
    await iptablesRestore(family, removalScript('nat', nat, new Set([chain])));
    removed.push(`ipv${family} nat ${chain}`);
  }
  return removed;
}

export interface SharedChainsReport {
  /** "ipv4 nat CNI-HOSTPORT-DNAT", ... */
  removed: string[];
  /** Chains left in place, and why (in use, or changed meanwhile). */
  kept: { chain: string; reason: string }[];
}

const HOSTPORT_CHAINS = ['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-MASQ', 'CNI-HOSTPORT-SETMARK'];
const FIREWALL_CHAINS = ['CNI-FORWARD', 'CNI-ADMIN'];

/**
 * Removes the chains CNI plugins share between containers (portmap's CNI-HOSTPORT-*, the
 * firewall plugin's CNI-FORWARD and CNI-ADMIN), in both families, when no container uses them:
 * - portmap's, when no per-container CNI-DN-* chain exists and CNI-HOSTPORT-DNAT is empty;
 * - the firewall's, when CNI-FORWARD holds nothing but its jump to CNI-ADMIN, and CNI-ADMIN
 *   (the administrator's chain) is empty.
 * Whatever another runtime's containers still use is kept. The next ADD creates them again.
 * Safe to call at any time, e.g. after each DEL; it does nothing without iptables.
 */
export async function cleanupSharedChains(): Promise<SharedChainsReport> {
  const report: SharedChainsReport = { removed: [], kept: [] };
  for (const family of [4, 6] as const) {
    let text: string | null;
    try {
      text = await iptablesSave(family);
    } catch (err) {
      report.kept.push({ chain: `ipv${family} (every table)`, reason: (err as Error).message });
      continue;
    }
    if (!text) continue;
    const tables = parseSave(text);
    const nat = tables.get('nat');
    if (nat) await removeIfUnused(family, 'nat', nat, HOSTPORT_CHAINS, hostportUse(nat), report);
    const filter = tables.get('filter');
    if (filter) await removeIfUnused(family, 'filter', filter, FIREWALL_CHAINS, firewallUse(filter), report);
  }
  return report;
}

/** Why portmap's chains are in use, or null. */
function hostportUse(nat: SavedTable): string | null {
  const perContainer = [...nat.chains].filter((c) => c.startsWith('CNI-DN-'));
  if (perContainer.length > 0) return `in use: ${perContainer.length} container port-mapping chain(s) (${perContainer[0]}...)`;
  const dnat = nat.rules.filter((r) => ruleChain(r) === 'CNI-HOSTPORT-DNAT');
  if (dnat.length > 0) return `in use: CNI-HOSTPORT-DNAT holds ${dnat.length} rule(s)`;
  return null;
}

/** Why the firewall plugin's chains are in use, or null. */
function firewallUse(filter: SavedTable): string | null {
  const forward = filter.rules.filter((r) => ruleChain(r) === 'CNI-FORWARD' && ruleTarget(r) !== 'CNI-ADMIN');
  if (forward.length > 0) return `in use: CNI-FORWARD holds ${forward.length} container rule(s)`;
  const admin = filter.rules.filter((r) => ruleChain(r) === 'CNI-ADMIN');
  if (admin.length > 0) return `CNI-ADMIN holds ${admin.length} rule(s) of the administrator`;
  return null;
}

async function removeIfUnused(
  family: IpFamily,
  tableName: string,
  table: SavedTable,
  names: string[],
  use: string | null,
  report: SharedChainsReport,
): Promise<void> {
  const present = new Set(names.filter((c) => table.chains.has(c)));
  if (present.size === 0) return;
  const label = (c: string) => `ipv${family} ${tableName} ${c}`;
  if (use) {
    for (const c of present) report.kept.push({ chain: label(c), reason: use });
    return;
  }
  try {
    await iptablesRestore(family, removalScript(tableName, table, present));
  } catch (err) {
    for (const c of present)
      report.kept.push({ chain: label(c), reason: `changed meanwhile or referenced elsewhere: ${(err as Error).message}` });
    return;
  }
  for (const c of present) report.removed.push(label(c));
}
