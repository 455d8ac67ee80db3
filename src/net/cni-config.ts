// CNI network configurations on disk, found and checked as libcni-based runtimes (containerd,
// CRI-O) do: the files of a conf dir in name order, `.conflist` lists and single-plugin `.conf`/
// `.json` files promoted to a list of one; a network is picked by its `name`, or the first valid
// one is the default. Checking a network means its fields, its plugins' executables in the bin
// dirs, and each plugin's VERSION answer: a network that loads can be run.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { networkInterfaces } from 'node:os';
import { extname, join } from 'node:path';
import { InputError, TspodError } from '../errors.js';
import { compareVersions, findPlugin, parseVersion, pluginTypeProblem, pluginVersions } from './cni-exec.js';

export const DEFAULT_CONF_DIR = '/etc/cni/net.d';
/** The upstream install location first, then Debian's package (containernetworking-plugins). */
export const DEFAULT_BIN_DIRS: readonly string[] = ['/opt/cni/bin', '/usr/lib/cni'];
/** The extensions libcni-based runtimes read in a conf dir. */
const CONF_EXTENSIONS: readonly string[] = ['.conf', '.conflist', '.json'];

/** Chaining (prevResult) arrived with 0.3.0; the result format of 1.x is what tspod reads. */
const OLDEST_VERSION = '0.3.0';
const NEWEST_MAJOR = 1;

/** The spec's rule for network names and container IDs. */
export const CNI_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** One plugin's configuration as written: `type`, `capabilities`, and its own fields. */
export interface CniPluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [field: string]: unknown;
}

/** A network configuration list, ready to run. Plain JSON: it is cached with each attachment. */
export interface CniNetwork {
  name: string;
  cniVersion: string;
  disableCheck: boolean;
  plugins: CniPluginConf[];
  /** The file it was read from (null when built in memory). */
  file: string | null;
  /** Where its plugins were found; CNI_PATH. */
  binDirs: string[];
}

export interface LoadOptions {
  confDir?: string;
  binDirs?: readonly string[];
}

/** A configuration file of the conf dir: its network, or why it cannot be used. */
export interface NetworkEntry {
  file: string;
  /** The network's name, when the file got that far. */
  name?: string;
  network?: CniNetwork;
  error?: TspodError;
}

/** Configuration files of `confDir` in byte order of their names (Go's sort.Strings). */
export function confFiles(confDir: string): string[] {
  let entries;
  try {
    entries = readdirSync(confDir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return entries
    .filter((e) => CONF_EXTENSIONS.includes(extname(e.name)))
    .filter((e) => e.isFile() || (e.isSymbolicLink() && isFile(join(confDir, e.name))))
    .map((e) => e.name)
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((name) => join(confDir, name));
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/**
 * Parses and checks one file's text (no plugin is run): a `.conflist` is a list, a `.conf` or
 * `.json` a single plugin promoted to a list of one. Throws an InputError naming the file and
 * the field. `name` is set on the error's `network` when the file got that far.
 */
export function parseNetworkConfig(text: string, file: string, binDirs: readonly string[]): CniNetwork {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InputError('(file)', `not JSON: ${(err as Error).message}`, file);
  }
  if (!isObject(doc)) throw new InputError('(file)', 'must be a JSON object', file);
  const isList = extname(file) === '.conflist';
  const bad = (field: string, problem: string) => new InputError(field, problem, file);

  if (typeof doc.name !== 'string') throw bad('name', 'must be a string');
  if (!CNI_NAME.test(doc.name)) {
    throw bad('name', `"${doc.name}" is not a CNI network name (letters, digits, '_', '.', '-', starting with a letter or digit)`);
  }
  const name = doc.name;
  const named = (err: InputError) => Object.assign(err, { networkName: name });

  const cniVersion = pickVersion(doc, bad);
  if (cniVersion instanceof InputError) throw named(cniVersion);

  let disableCheck = false;
  let rawPlugins: unknown[];
  if (isList) {
    if (doc.disableCheck !== undefined) {
      const v = doc.disableCheck;
      // libcni takes a boolean or the strings "true"/"false".
      if (v === true || v === 'true') disableCheck = true;
      else if (v !== false && v !== 'false') throw named(bad('disableCheck', 'must be true or false'));
    }
    if (!Array.isArray(doc.plugins) || doc.plugins.length === 0) throw named(bad('plugins', 'must be a non-empty list'));
    rawPlugins = doc.plugins;
  } else {
    if (doc.plugins !== undefined) throw named(bad('plugins', `a list belongs in a .conflist file, not ${extname(file)}`));
    rawPlugins = [doc];
  }

  const plugins: CniPluginConf[] = [];
  rawPlugins.forEach((raw, i) => {
    const at = isList ? `plugins[${i}].` : '';
    if (!isObject(raw)) throw named(bad(`plugins[${i}]`, 'must be an object'));
    const typeProblem = pluginTypeProblem(raw.type);
    if (typeProblem) throw named(bad(`${at}type`, typeProblem));
    if (!findPlugin(raw.type as string, binDirs)) {
      throw named(bad(`${at}type`, `plugin "${raw.type}" not found in ${binDirs.join(', ')}`));
    }
    if (raw.capabilities !== undefined) {
      if (!isObject(raw.capabilities)) throw named(bad(`${at}capabilities`, 'must be an object'));
      for (const [cap, on] of Object.entries(raw.capabilities)) {
        if (typeof on !== 'boolean') throw named(bad(`${at}capabilities.${cap}`, 'must be true or false'));
      }
    }
    if (raw.ipam !== undefined) {
      if (!isObject(raw.ipam)) throw named(bad(`${at}ipam`, 'must be an object'));
      // An ipam without type is legal (bridge then gives layer 2 only).
      if (raw.ipam.type !== undefined) {
        const ipamProblem = pluginTypeProblem(raw.ipam.type);
        if (ipamProblem) throw named(bad(`${at}ipam.type`, ipamProblem));
        if (!findPlugin(raw.ipam.type as string, binDirs)) {
          throw named(bad(`${at}ipam.type`, `IPAM plugin "${raw.ipam.type}" not found in ${binDirs.join(', ')}`));
        }
      }
    }
    plugins.push(structuredClone(raw) as CniPluginConf);
  });
  return { name, cniVersion, disableCheck, plugins, file, binDirs: [...binDirs] };
}

/** cniVersion, or the highest of cniVersions (spec 1.1) that tspod reads. */
function pickVersion(doc: Record<string, unknown>, bad: (field: string, problem: string) => InputError): string | InputError {
  const usable = (v: string) => {
    const p = parseVersion(v);
    return !!p && p[0] <= NEWEST_MAJOR && compareVersions(v, OLDEST_VERSION) >= 0;
  };
  if (doc.cniVersions !== undefined) {
    if (!Array.isArray(doc.cniVersions) || !doc.cniVersions.every((v) => typeof v === 'string')) {
      return bad('cniVersions', 'must be a list of version strings');
    }
    const candidates = (doc.cniVersions as string[]).concat(typeof doc.cniVersion === 'string' ? [doc.cniVersion] : []).filter(usable);
    if (candidates.length > 0) return candidates.sort(compareVersions).at(-1)!;
  }
  if (typeof doc.cniVersion !== 'string') return bad('cniVersion', 'must be a string such as "1.0.0"');
  const v = doc.cniVersion;
  const parsed = parseVersion(v);
  if (!parsed) return bad('cniVersion', `"${v}" is not a version (MAJOR.MINOR.PATCH)`);
  if (compareVersions(v, OLDEST_VERSION) < 0)
    return bad('cniVersion', `${v} is too old: tspod needs ${OLDEST_VERSION} or newer (plugin chaining)`);
  if (parsed[0] > NEWEST_MAJOR) return bad('cniVersion', `${v} is newer than tspod reads (${NEWEST_MAJOR}.x)`);
  return v;
}

/** Asks each plugin of the network (IPAM ones too) whether it speaks the network's cniVersion. */
async function checkPluginVersions(network: CniNetwork, timeoutMs?: number): Promise<void> {
  const isList = network.file === null || extname(network.file) === '.conflist';
  const checks: { type: string; field: string }[] = [];
  network.plugins.forEach((p, i) => {
    const at = isList ? `plugins[${i}].` : '';
    checks.push({ type: p.type, field: `${at}type` });
    const ipam = p.ipam as { type?: unknown } | undefined;
    if (typeof ipam?.type === 'string') checks.push({ type: ipam.type, field: `${at}ipam.type` });
  });
  const asked = new Map<string, Promise<string[]>>();
  for (const { type, field } of checks) {
    if (!asked.has(type)) asked.set(type, pluginVersions(network.name, type, network.binDirs, network.cniVersion, timeoutMs));
    let versions: string[];
    try {
      versions = await asked.get(type)!;
    } catch (err) {
      throw Object.assign(
        new InputError(field, `plugin "${type}" did not answer VERSION: ${(err as Error).message}`, network.file ?? undefined),
        {
          networkName: network.name,
        },
      );
    }
    if (!versions.includes(network.cniVersion)) {
      throw Object.assign(
        new InputError(
          field,
          `plugin "${type}" (${findPlugin(type, network.binDirs)}) does not support cniVersion ${network.cniVersion} ` +
            `(it supports ${versions.join(', ')})`,
          network.file ?? undefined,
        ),
        { networkName: network.name },
      );
    }
  }
}

/** Reads and checks one file: fields, executables, VERSION answers. */
async function loadNetworkFile(file: string, binDirs: readonly string[] = DEFAULT_BIN_DIRS): Promise<CniNetwork> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError('(file)', `cannot read: ${(err as Error).message}`, file);
  }
  const network = parseNetworkConfig(text, file, binDirs);
  await checkPluginVersions(network);
  return network;
}

/** Every configuration file of the conf dir, in the order they are considered, each checked. */
export async function listNetworks(opts: LoadOptions = {}): Promise<NetworkEntry[]> {
  const binDirs = opts.binDirs ?? DEFAULT_BIN_DIRS;
  const entries: NetworkEntry[] = [];
  for (const file of confFiles(opts.confDir ?? DEFAULT_CONF_DIR)) {
    try {
      const network = await loadNetworkFile(file, binDirs);
      entries.push({ file, name: network.name, network });
    } catch (err) {
      if (!(err instanceof TspodError)) throw err;
      entries.push({ file, name: (err as { networkName?: string }).networkName, error: err });
    }
  }
  return entries;
}

/**
 * The network called `name`, or, with no name, the first valid network in file order (invalid
 * files are then passed over, as CRI-O does). The first file with that name decides: if it is
 * invalid, its error is thrown, naming the file and the field or plugin.
 */
export async function loadNetwork(name: string | undefined, opts: LoadOptions = {}): Promise<CniNetwork> {
  const confDir = opts.confDir ?? DEFAULT_CONF_DIR;
  const binDirs = opts.binDirs ?? DEFAULT_BIN_DIRS;
  const files = confFiles(confDir);
  if (files.length === 0) {
    throw new TspodError(`no CNI network configuration in ${confDir} (files ending in ${CONF_EXTENSIONS.join(', ')})`);
  }
  const invalid: NetworkEntry[] = [];
  const names: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      invalid.push({ file, error: new InputError('(file)', `cannot read: ${(err as Error).message}`, file) });
      continue;
    }
    let network: CniNetwork;
    try {
      network = parseNetworkConfig(text, file, binDirs);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      const fileName = (err as { networkName?: string }).networkName;
      if (name !== undefined && fileName === name) throw err;
      invalid.push({ file, name: fileName, error: err });
      if (fileName) names.push(fileName);
      continue;
    }
    names.push(network.name);
    if (name !== undefined && network.name !== name) continue;
    try {
      await checkPluginVersions(network);
    } catch (err) {
      if (name !== undefined || !(err instanceof InputError)) throw err;
      invalid.push({ file, name: network.name, error: err });
      continue;
    }
    return network;
  }
  if (name !== undefined) {
    const skipped = invalid
      .filter((e) => e.name === undefined)
      .map((e) => `; unreadable: ${e.error!.message}`)
      .join('');
    throw new TspodError(`no CNI network named "${name}" in ${confDir} (networks there: ${names.join(', ') || 'none'})${skipped}`);
  }
  const first = invalid[0].error!;
  const more = invalid.length > 1 ? ` (and ${invalid.length - 1} more invalid file${invalid.length > 2 ? 's' : ''})` : '';
  throw new TspodError(`no valid CNI network in ${confDir}: ${first.message}${more}`);
}

// The default network.

export const DEFAULT_NETWORK_NAME = 'tspod';
export const DEFAULT_NETWORK_FILE = 'tspod.conflist';
const DEFAULT_BRIDGE = 'tspod0';
/**
 * Private /16s tried in turn: none is a default of Docker (172.17-31/16, 192.168/16 pools),
 * podman (10.88/16), CRI-O (10.85/16), flannel (10.244/16), k3s (10.42-43/16), kube services
 * (10.96/12), libvirt (192.168.122/24) or LXD (random 10.x/24, avoided by the route check).
 */
const DEFAULT_SUBNETS: readonly string[] = ['10.209.0.0/16', '10.219.0.0/16', '10.229.0.0/16', '10.239.0.0/16'];
/**
 * host-local's leases on a tmpfs, like the pods themselves: after a reboot no lease can be left
 * behind for a pod that no longer exists (the default, /var/lib/cni/networks, survives one).
 */
const DEFAULT_IPAM_DIR = '/run/cni/networks';

/** The marker of a file tspod wrote: a top-level key, which no plugin ever receives. */
const MANAGED_MARKER = 'tspod';

export interface DefaultNetworkOptions {
  binDirs?: readonly string[];
  /** An IPv4 CIDR instead of the first of DEFAULT_SUBNETS that no host route or address overlaps. */
  subnet?: string;
}

/** The conflist tspod writes; cniVersion is the newest all three plugins speak. */
export function defaultNetworkConfig(cniVersion: string, subnet: string): Record<string, unknown> {
  return {
    cniVersion,
    name: DEFAULT_NETWORK_NAME,
    [MANAGED_MARKER]: { managed: true },
    plugins: [
      {
        type: 'bridge',
        bridge: DEFAULT_BRIDGE,
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: DEFAULT_IPAM_DIR,
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
}

/** True when `file` is the default network tspod wrote (name and marker both). */
export function isTspodManaged(file: string): boolean {
  if (!file.endsWith(`/${DEFAULT_NETWORK_FILE}`) && file !== DEFAULT_NETWORK_FILE) return false;
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    return isObject(doc[MANAGED_MARKER]) && (doc[MANAGED_MARKER] as Record<string, unknown>).managed === true;
  } catch {
    return false;
  }
}

/**
 * Writes the default network into `confDir` when it holds no configuration at all, and returns
 * its path; returns null, touching nothing, when any configuration file is there. The file
 * appears whole or not at all, and never replaces one created meanwhile.
 */
export async function ensureDefaultNetwork(confDir: string = DEFAULT_CONF_DIR, opts: DefaultNetworkOptions = {}): Promise<string | null> {
  if (confFiles(confDir).length > 0) return null;
  const binDirs = opts.binDirs ?? DEFAULT_BIN_DIRS;
  const missing = ['bridge', 'host-local', 'portmap'].filter((p) => !findPlugin(p, binDirs));
  if (missing.length > 0) {
    throw new TspodError(
      `cannot write the default CNI network: plugin ${missing.join(', ')} not found in ${binDirs.join(', ')} ` +
        '(Debian: apt-get install containernetworking-plugins)',
    );
  }
  const cniVersion = await commonVersion(binDirs, ['1.0.0', '0.4.0']);
  const subnet = opts.subnet ?? freeSubnet();
  if (!parseCidr(subnet)) throw new InputError('subnet', `"${subnet}" is not an IPv4 CIDR`);
  const text = JSON.stringify(defaultNetworkConfig(cniVersion, subnet), null, 2) + '\n';

  mkdirSync(confDir, { recursive: true, mode: 0o755 });
  const final = join(confDir, DEFAULT_NETWORK_FILE);
  // The temporary name has no configuration extension, so no runtime reads it half-written.
  const tmp = join(confDir, `.${DEFAULT_NETWORK_FILE}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    if (confFiles(confDir).length > 0) return null; // another writer won meanwhile
    // link() fails with EEXIST where rename() would silently replace a file created meanwhile.
    linkSync(tmp, final);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return null;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    renameSync(tmp, final); // a file system without hard links
    return final;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // renamed
    }
  }
  return final;
}

/** The first of `preferred` that every default plugin supports. */
async function commonVersion(binDirs: readonly string[], preferred: string[]): Promise<string> {
  const supported = await Promise.all(
    ['bridge', 'host-local', 'portmap'].map((p) => pluginVersions(DEFAULT_NETWORK_NAME, p, binDirs, preferred[0])),
  );
  const v = preferred.find((v) => supported.every((list) => list.includes(v)));
  if (!v)
    throw new TspodError(
      `cannot write the default CNI network: the plugins in ${binDirs.join(', ')} share none of cniVersion ${preferred.join(', ')}`,
    );
  return v;
}

/** [network, prefix length] of an IPv4 CIDR, network as a 32-bit number. */
export function parseCidr(cidr: string): [number, number] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m) return undefined;
  const bytes = m.slice(1, 5).map(Number);
  const len = Number(m[5]);
  if (bytes.some((b) => b > 255) || len > 32) return undefined;
  const addr = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  return [(addr & maskOf(len)) >>> 0, len];
}

const maskOf = (len: number) => (len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0);

export function cidrsOverlap(a: [number, number], b: [number, number]): boolean {
  const mask = maskOf(Math.min(a[1], b[1]));
  return (a[0] & mask) >>> 0 === (b[0] & mask) >>> 0;
}

/**
 * IPv4 networks the host already uses: its routes (but the default route) and addresses, except
 * those of `ownBridge` (the default network's own bridge, left from an earlier configuration).
 */
export function hostNetworks(ownBridge = DEFAULT_BRIDGE): [number, number][] {
  const nets: [number, number][] = [];
  try {
    // /proc/net/route: Iface Destination Gateway Flags RefCnt Use Metric Mask ...; hex, host order.
    for (const line of readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 8 || f[0] === ownBridge) continue;
      const dest = Buffer.from(f[1], 'hex').readUInt32LE(0);
      const mask = Buffer.from(f[7], 'hex').readUInt32LE(0);
      const len = mask.toString(2).replace(/0/g, '').length;
      if (len > 0) nets.push([dest >>> 0, len]);
    }
  } catch {
    // no /proc/net/route: the addresses still count
  }
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (name === ownBridge) continue;
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4' || a.internal || !a.cidr) continue;
      const parsed = parseCidr(a.cidr);
      if (parsed) nets.push(parsed);
    }
  }
  return nets;
}

function freeSubnet(): string {
  const used = hostNetworks();
  const free = DEFAULT_SUBNETS.find((s) => !used.some((u) => cidrsOverlap(parseCidr(s)!, u)));
  if (!free)
    throw new TspodError(`cannot write the default CNI network: the host already uses ${DEFAULT_SUBNETS.join(', ')}; pass a subnet`);
  return free;
}
