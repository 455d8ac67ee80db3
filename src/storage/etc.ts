// The pod's /etc/hosts and /etc/resolv.conf, as the kubelet writes them for a pod: the text
// only (storage.ts writes the files, bound into each container with a root of its own).
import type { DnsConfig, PodSpec } from '../pod/spec.js';

/** The cluster domain in a pod's FQDN: the kubelet's default (--cluster-domain). */
export const CLUSTER_DOMAIN = 'cluster.local';

/** What of a pod the files are made from. */
export type EtcSpec = Pick<PodSpec, 'hostname' | 'subdomain' | 'namespace' | 'hostAliases' | 'dnsPolicy' | 'dnsConfig'>;

/**
 * /etc/hosts: localhost, the pod's own name (its FQDN first when it has a subdomain) on its
 * address (127.0.1.1 before it has one, as Debian names the host), then its hostAliases.
 */
export function hostsFile(spec: EtcSpec, podIP: string | undefined): string {
  const { hostname } = spec;
  const names = spec.subdomain
    ? [`${hostname}.${spec.subdomain}.${spec.namespace ?? 'default'}.svc.${CLUSTER_DOMAIN}`, hostname]
    : [hostname];
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    `${podIP ?? '127.0.1.1'}\t${names.join('\t')}`,
  ];
  if (spec.hostAliases?.length) {
    lines.push('', '# Entries added by HostAliases.');
    for (const a of spec.hostAliases) lines.push(`${a.ip}\t${a.hostnames.join('\t')}`);
  }
  return lines.join('\n') + '\n';
}

/** The resolver settings of a resolv.conf's text: its nameservers, search list and options. */
function parseResolvConf(text: string): Required<DnsConfig> {
  const out: Required<DnsConfig> = { nameservers: [], searches: [], options: [] };
  for (const line of text.split('\n')) {
    const [key, ...words] = line.trim().split(/\s+/);
    if (key === 'nameserver' && words[0]) out.nameservers.push(words[0]);
    // The last search (or domain) line wins, as in glibc.
    else if (key === 'search' || key === 'domain') out.searches = words;
    else if (key === 'options')
      for (const w of words) {
        const colon = w.indexOf(':');
        out.options.push(colon < 0 ? { name: w } : { name: w.slice(0, colon), value: w.slice(colon + 1) });
      }
  }
  return out;
}

const unique = <T>(xs: T[]) => [...new Set(xs)];

/**
 * resolv.conf: with dnsPolicy None, dnsConfig's alone; else the host's (`host`, its text),
 * dnsConfig's nameservers and searches added after the host's, and its options replacing the
 * host's of the same name, as the kubelet merges them. glibc reads 3 nameservers: no more are
 * written.
 */
export function resolvConf(spec: EtcSpec, host: string): string {
  const config = spec.dnsConfig ?? {};
  const base = spec.dnsPolicy === 'None' ? { nameservers: [], searches: [], options: [] } : parseResolvConf(host);
  if (spec.dnsPolicy !== 'None' && !spec.dnsConfig) return host;
  const nameservers = unique([...base.nameservers, ...(config.nameservers ?? [])]).slice(0, 3);
  const searches = unique([...base.searches, ...(config.searches ?? [])]);
  const options = new Map(base.options.map((o) => [o.name, o.value]));
  for (const o of config.options ?? []) options.set(o.name, o.value);
  const lines = nameservers.map((n) => `nameserver ${n}`);
  if (searches.length) lines.push(`search ${searches.join(' ')}`);
  if (options.size) lines.push(`options ${[...options].map(([n, v]) => (v === undefined ? n : `${n}:${v}`)).join(' ')}`);
  return lines.join('\n') + '\n';
}
