// The CNI client with the real plugins (containernetworking-plugins in /usr/lib/cni): each test
// has a private network of its own (name, bridge, /24, host-local dataDir in a temp dir), in
// namespaces it creates; traffic only between those namespaces and the host's own addresses.
// Everything is undone when a test ends, pass or fail: attachments, processes, namespaces, the
// bridge; at the end of the file the shared iptables chains and net.ipv4.ip_forward.
import t, { type Test } from 'tap';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { cleanup, keepSysctl, kill, owned, tempDir } from '../helpers/cleanup.js';
import { nsInode, waitFor } from '../helpers/proc.js';
import { freeHostPort } from '../helpers/net.js';
import { exclusive } from '../helpers/exclusive.js';
import {
  add,
  check,
  cleanupSharedChains,
  del,
  fromCache,
  podIP,
  toCache,
  CniError,
  type CniAttachment,
  type CniPortMapping,
} from '../../src/net/cni.js';
import {
  cidrsOverlap,
  DEFAULT_NETWORK_FILE,
  ensureDefaultNetwork,
  hostNetworks,
  isTspodManaged,
  loadNetwork,
  parseCidr,
  type CniNetwork,
} from '../../src/net/cni-config.js';

const PLUGINS = '/usr/lib/cni';

const skip = !isRoot
  ? NOT_ROOT
  : !existsSync(`${PLUGINS}/bridge`)
    ? `needs the CNI plugins: ${PLUGINS}/bridge is missing (Debian: containernetworking-plugins)`
    : undefined;
if (skip) t.plan(0, skip);

/** Without tap's instrumentation, for the node processes started in namespaces. */
const childEnv = (() => {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
})();

interface TestNet {
  network: CniNetwork;
  bridge: string;
  subnet: string;
  gateway: string;
  /** host-local's directory for this network (leases are files named by IP). */
  leaseDir: string;
}

const usedThirdOctets = new Set<number>();

/** A subnet 10.211.X.0/24 no host route or address overlaps, and not used by this file yet. */
function freeSubnet(): string {
  const host = hostNetworks('');
  for (let tries = 0; tries < 200; tries++) {
    const x = 1 + (randomBytes(1)[0] % 254);
    const subnet = `10.211.${x}.0/24`;
    if (!usedThirdOctets.has(x) && !host.some((h) => cidrsOverlap(h, parseCidr(subnet)!))) {
      usedThirdOctets.add(x);
      return subnet;
    }
  }
  throw new Error('no free 10.211.X.0/24 for a test network');
}

/** A network of the test's own, in a conf dir of its own; its bridge is deleted at the end. */
async function testNetwork(t: Test, opts: { oneAddress?: boolean; binDir?: string; firewall?: boolean } = {}): Promise<TestNet> {
  const id = randomBytes(3).toString('hex');
  const name = `tspodt-${id}`;
  const bridge = `tspodt-${id}`;
  const subnet = freeSubnet();
  const prefix = subnet.slice(0, subnet.lastIndexOf('.'));
  const dataDir = tempDir(t, 'cni-ipam');
  const confDir = tempDir(t, 'cni-conf');
  const range: Record<string, string> = { subnet };
  if (opts.oneAddress) Object.assign(range, { rangeStart: `${prefix}.10`, rangeEnd: `${prefix}.10` });
  const conf = {
    cniVersion: '1.0.0',
    name,
    plugins: [
      {
        type: 'bridge',
        bridge,
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[range]], routes: [{ dst: '0.0.0.0/0' }], dataDir },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
      ...(opts.firewall ? [{ type: 'firewall' }] : []),
    ],
  };
  writeFileSync(join(confDir, '50-test.conflist'), JSON.stringify(conf));
  cleanup(t, `delete bridge ${bridge}`, () => {
    if (linkNames().includes(bridge)) execFileSync('ip', ['link', 'del', bridge]);
  });
  const network = await loadNetwork(name, { confDir, binDirs: [opts.binDir ?? PLUGINS] });
  return { network, bridge, subnet, gateway: `${prefix}.1`, leaseDir: join(dataDir, name) };
}

interface Holder {
  pid: number;
  netns: string;
  /** SIGKILL, reaped; its namespace is then freed by the kernel (asynchronously). */
  kill(): Promise<void>;
}

/** A process holding a new network namespace: `unshare --net sleep` (unshare execs sleep). */
async function netnsHolder(t: Test): Promise<Holder> {
  const child = owned(t, spawn('unshare', ['--net', 'sleep', '1000'], { stdio: 'ignore' }));
  const host = nsInode('thread-self', 'net');
  await waitFor('unshare to enter its namespace', () => {
    try {
      return nsInode(child.pid!, 'net') !== host;
    } catch {
      return false;
    }
  });
  return { pid: child.pid!, netns: `/proc/${child.pid}/ns/net`, kill: () => kill(child) };
}

/** add() with a DEL at the end of the test unless the test did it. */
async function attach(t: Test, net: TestNet, holder: Holder, ports?: CniPortMapping[]): Promise<{ a: CniAttachment; cache: string }> {
  const containerId = `ctr-${randomBytes(4).toString('hex')}`;
  let cache = '';
  cleanup(t, `DEL ${containerId}`, () => (cache ? del(fromCache(cache)) : undefined));
  let a: CniAttachment;
  try {
    a = await add(net.network, { containerId, netns: holder.netns, portMappings: ports, onPending: (p) => void (cache = toCache(p)) });
  } catch (err) {
    cache = ''; // add() undid what it did
    throw err;
  }
  cache = toCache(a);
  return { a, cache };
}

/** A TCP server in a namespace that answers "pod <peer address>". */
async function serveIn(t: Test, netns: string, port: number): Promise<ChildProcess> {
  const script =
    "require('net').createServer((s) => s.end('pod ' + s.remoteAddress.replace('::ffff:', '') + '\\n'))" +
    `.listen(${port}, () => console.log('listening'))`;
  const child = owned(
    t,
    spawn('nsenter', [`--net=${netns}`, '--', process.execPath, '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: childEnv,
    }),
  );
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  await waitFor(`the server in ${netns}`, () => out.includes('listening') || child.exitCode !== null);
  if (!out.includes('listening')) throw new Error(`server in ${netns} failed: ${out}`);
  return child;
}

/** What a TCP client gets from host:port, run inside `netns` (or the host's, without). */
function fetchTcp(host: string, port: number, netns?: string): Promise<string> {
  if (!netns) {
    return new Promise((resolve) => {
      const s = connect({ host, port, timeout: 3000 });
      let data = '';
      s.setEncoding('utf8').on('data', (d: string) => (data += d));
      s.on('end', () => resolve(data.trim()));
      s.on('timeout', () => (s.destroy(), resolve('timeout')));
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
  }
  const script = `const s = require('net').connect({ host: '${host}', port: ${port}, timeout: 3000 }); let d = '';
    s.setEncoding('utf8').on('data', (c) => (d += c)); s.on('end', () => console.log(d.trim()));
    s.on('timeout', () => (s.destroy(), console.log('timeout'))); s.on('error', (e) => console.log(e.code));`;
  return new Promise((resolve, reject) =>
    execFile('nsenter', [`--net=${netns}`, '--', process.execPath, '-e', script], { env: childEnv, timeout: 10000 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout.trim()),
    ),
  );
}

function linkNames(): string[] {
  return execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(': ')[1].split('@')[0]);
}

/**
 * iptables-save of both families, compared line by line: no comments, no counters, no built-in
 * chain with the default policy (iptables-nft creates the nat table on first use and keeps it).
 */
function iptablesState(): string[] {
  const lines: string[] = [];
  for (const tool of ['iptables-save', 'ip6tables-save']) {
    const text = execFileSync(tool, { encoding: 'utf8' });
    for (const table of text.split(/^\*/m).slice(1)) {
      const body = table.split('\n').filter((l) => l && !l.startsWith('#') && l !== 'COMMIT');
      const [name, ...rest] = body;
      // Built-in chains with the default policy say nothing; user chains and rules do.
      for (const l of rest.filter((l) => !/^:\S+ ACCEPT \[/.test(l))) lines.push(`${tool} ${name} ${l.replace(/ \[\d+:\d+\]$/, '')}`);
    }
  }
  return lines.sort();
}

/** Lines of `nft list ruleset` that name CNI (iptables-nft rules show there too). */
function nftCniLines(): string[] {
  let text = '';
  try {
    text = execFileSync('nft', ['list', 'ruleset'], { encoding: 'utf8' });
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => /cni/i.test(l))
    .map((l) => l.replace(/counter packets \d+ bytes \d+/, 'counter').trim())
    .sort();
}

/** host-local's leases: one file per address; its lock and last_reserved_ip.* are not leases. */
function leases(net: TestNet): string[] {
  try {
    return readdirSync(net.leaseDir).filter((f) => f !== 'lock' && !f.startsWith('last_reserved_ip'));
  } catch {
    return [];
  }
}

const diff = (after: string[], before: string[]) => after.filter((l) => !before.includes(l));

function run(): void {
  let cniLinesBefore: string[] = [];
  t.before(async () => {
    // iptables and links are compared before and after: not while another file changes them,
    // and the baselines below are read only once this file holds the lock.
    await exclusive(t, 'netfilter');
    // The bridge plugin (isGateway) turns IPv4 forwarding on for the host; put back at the end.
    keepSysctl(t, 'net/ipv4/ip_forward');
    cniLinesBefore = iptablesState().filter((l) => l.includes('CNI-'));
    cleanup(t, 'remove the shared CNI chains', () => cleanupSharedChains());
  });

  t.test('two namespaces get distinct addresses on the bridge and reach each other', async (t) => {
    const net = await testNetwork(t);
    const [h1, h2] = [await netnsHolder(t), await netnsHolder(t)];
    const { a: a1 } = await attach(t, net, h1);
    const { a: a2 } = await attach(t, net, h2);
    const [ip1, ip2] = [podIP(a1)!, podIP(a2)!];
    t.not(ip1, ip2, `distinct addresses: ${ip1}, ${ip2}`);
    for (const ip of [ip1, ip2]) t.ok(cidrsOverlap(parseCidr(`${ip}/32`)!, parseCidr(net.subnet)!), `${ip} is in ${net.subnet}`);
    t.match(
      a1.result,
      { interfaces: [{ name: net.bridge }, { name: /^veth/ }, { name: 'eth0', sandbox: h1.netns }] },
      'the result names the bridge, the veth and eth0 in the namespace',
    );
    t.ok(linkNames().includes(net.bridge), 'the bridge exists');

    await serveIn(t, h1.netns, 8080);
    t.equal(
      await fetchTcp(ip1, 8080, h2.netns),
      `pod ${ip2}`,
      'the second reaches the first, which sees its own address (no NAT between pods)',
    );
    t.equal(await fetchTcp(ip1, 8080), `pod ${net.gateway}`, 'the host reaches the pod through the bridge');
  });

  t.test("portmap publishes a host port on the bridge's address and on 127.0.0.1", async (t) => {
    const net = await testNetwork(t);
    const holder = await netnsHolder(t);
    const hostPort = await freeHostPort();
    const { a } = await attach(t, net, holder, [{ hostPort, containerPort: 8080, protocol: 'tcp' }]);
    await serveIn(t, holder.netns, 8080);
    // DNAT in OUTPUT (dst-type LOCAL); 127.0.0.1 also works because portmap (snat, the default)
    // sets route_localnet on the bridge and masquerades localhost's packets.
    t.equal(await fetchTcp(net.gateway, hostPort), `pod ${net.gateway}`, `${net.gateway}:${hostPort} reaches the pod`);
    t.equal(await fetchTcp('127.0.0.1', hostPort), `pod ${net.gateway}`, `127.0.0.1:${hostPort} reaches the pod (masqueraded)`);
    t.equal(
      readFileSync(`/proc/sys/net/ipv4/conf/${net.bridge}/route_localnet`, 'utf8').trim(),
      '1',
      'portmap set route_localnet on the bridge',
    );
    const other = await netnsHolder(t);
    await attach(t, net, other);
    t.equal(
      await fetchTcp(net.gateway, hostPort, other.netns),
      `pod ${net.gateway}`,
      'another pod reaches it through the host port (masqueraded)',
    );
    t.equal(
      await fetchTcp(net.gateway, hostPort, holder.netns),
      `pod ${net.gateway}`,
      'the pod reaches itself through its host port (hairpinMode)',
    );
    await del(a);
    t.equal(await fetchTcp(net.gateway, hostPort), 'ECONNREFUSED', 'after DEL the host port is closed');
  });

  t.test('DEL leaves nothing but the shared chains; cleanupSharedChains removes those', async (t) => {
    const net = await testNetwork(t);
    const holder = await netnsHolder(t);
    await cleanupSharedChains(); // what earlier tests left
    const before = { links: linkNames(), ipt: iptablesState(), nft: nftCniLines(), leases: leases(net) };
    const hostPort = await freeHostPort();
    const { a } = await attach(t, net, holder, [{ hostPort, containerPort: 80, protocol: 'tcp' }]);

    const during = iptablesState();
    t.ok(
      diff(during, before.ipt).some((l) => l.includes('CNI-DN-')),
      'ADD made a port-mapping chain',
    );
    t.ok(
      diff(during, before.ipt).some((l) => l.includes('-j MASQUERADE') && l.includes(a.containerId)),
      'and an ipMasq chain',
    );
    t.same(leases(net), [podIP(a)], 'and a lease');
    const veth = a.result!.interfaces![1].name;
    t.ok(linkNames().includes(veth), `and the host end of the veth, ${veth}`);

    await del(a);
    t.same(diff(linkNames(), before.links), [net.bridge], 'links: only the bridge stays (the bridge plugin never deletes it)');
    t.same(leases(net), [], 'no lease is left');
    const shared = diff(iptablesState(), before.ipt);
    t.same(diff(before.ipt, iptablesState()), [], 'nothing was removed that was there before');
    t.ok(
      shared.every((l) => /CNI-HOSTPORT-(DNAT|MASQ|SETMARK)/.test(l)),
      `what stays is portmap's shared chains:\n${shared.join('\n')}`,
    );
    t.notOk(
      shared.some((l) => l.includes(a.containerId) || l.includes('CNI-DN-')),
      'nothing of the container',
    );

    const report = await cleanupSharedChains();
    t.same(report.kept, [], 'nothing kept');
    t.same(iptablesState(), before.ipt, 'iptables as before the ADD');
    t.same(nftCniLines(), before.nft, 'nft as before the ADD');
  });

  t.test('cleanupSharedChains keeps the chains while a container uses them', async (t) => {
    const net = await testNetwork(t);
    const holder = await netnsHolder(t);
    const hostPort = await freeHostPort();
    const { a } = await attach(t, net, holder, [{ hostPort, containerPort: 80, protocol: 'tcp' }]);
    const report = await cleanupSharedChains();
    t.same(report.removed, []);
    t.match(
      report.kept.map((k) => k.chain),
      ['ipv4 nat CNI-HOSTPORT-DNAT', 'ipv4 nat CNI-HOSTPORT-MASQ', 'ipv4 nat CNI-HOSTPORT-SETMARK'],
    );
    t.match(report.kept[0].reason, /in use: 1 container port-mapping chain/);
    await check(a);
    t.pass('the attachment is intact');
  });

  t.test("the firewall plugin's chains go once unused, unless the administrator has rules there", async (t) => {
    const net = await testNetwork(t, { firewall: true });
    const holder = await netnsHolder(t);
    await cleanupSharedChains();
    const before = iptablesState();
    const { a } = await attach(t, net, holder);
    const during = diff(iptablesState(), before);
    t.ok(
      during.some((l) => l.includes('-A CNI-FORWARD') && l.includes(podIP(a)!)),
      "ADD: CNI-FORWARD accepts the pod's traffic",
    );
    await del(a);
    const left = diff(iptablesState(), before);
    t.same(
      left.filter((l) => l.includes(podIP(a)!)),
      [],
      'DEL: no rule of the pod',
    );
    t.ok(
      left.some((l) => l.includes(':CNI-ADMIN')),
      'CNI-FORWARD and CNI-ADMIN stay',
    );

    execFileSync('iptables', ['-w', '-t', 'filter', '-A', 'CNI-ADMIN', '-s', '192.0.2.99/32', '-j', 'RETURN']);
    cleanup(t, 'remove the CNI-ADMIN rule', () => {
      try {
        execFileSync('iptables', ['-w', '-t', 'filter', '-D', 'CNI-ADMIN', '-s', '192.0.2.99/32', '-j', 'RETURN'], { stdio: 'ignore' });
      } catch {
        // removed by the test
      }
    });
    const kept = await cleanupSharedChains();
    t.match(kept.kept, [
      { chain: 'ipv4 filter CNI-FORWARD', reason: /CNI-ADMIN holds 1 rule\(s\) of the administrator/ },
      { chain: 'ipv4 filter CNI-ADMIN' },
    ]);
    execFileSync('iptables', ['-w', '-t', 'filter', '-D', 'CNI-ADMIN', '-s', '192.0.2.99/32', '-j', 'RETURN']);
    const report = await cleanupSharedChains();
    t.same(
      report.removed.filter((c) => c.includes('filter')),
      ['ipv4 filter CNI-FORWARD', 'ipv4 filter CNI-ADMIN'],
    );
    t.same(iptablesState(), before, 'iptables as before');
  });

  t.test('DEL from the cache after the namespace is gone, and again', async (t) => {
    const net = await testNetwork(t);
    const holder = await netnsHolder(t);
    await cleanupSharedChains();
    const before = { links: linkNames(), ipt: iptablesState() };
    const hostPort = await freeHostPort();
    const { a, cache } = await attach(t, net, holder, [{ hostPort, containerPort: 80, protocol: 'tcp' }]);
    const veth = a.result!.interfaces![1].name;

    await holder.kill();
    // The kernel frees the namespace, and with it both ends of the veth, after the last process.
    await waitFor(`${veth} to go with the namespace`, () => !linkNames().includes(veth));
    t.notOk(existsSync(holder.netns), 'the namespace path is gone');

    // As after a restart of the caller: the attachment from its cached text only.
    await del(fromCache(cache));
    t.same(leases(net), [], 'the lease is released');
    t.same(diff(linkNames(), before.links), [net.bridge], 'only the bridge stays');
    const left = diff(iptablesState(), before.ipt);
    t.ok(
      left.every((l) => /CNI-HOSTPORT-(DNAT|MASQ|SETMARK)/.test(l)),
      'no rule of the container is left (bridge 1.1.1 leaves its ipMasq chain: tspod removes it)',
    );
    await del(fromCache(cache));
    t.pass('a second DEL succeeds');
    await cleanupSharedChains();
    t.same(iptablesState(), before.ipt, 'iptables as before');
  });

  t.test("a pid reused for another namespace is not taken for the pod's", async (t) => {
    const net = await testNetwork(t);
    const holder = await netnsHolder(t);
    const { a } = await attach(t, net, holder);
    // The cached path now names another namespace (as /proc/PID/ns/net would after pid reuse):
    // DEL must not enter it, CHECK must call the pod's namespace gone.
    const other = await netnsHolder(t);
    const moved = { ...a, netns: other.netns };
    execFileSync('nsenter', [`--net=${other.netns}`, 'ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p']);
    await t.rejects(check(moved), /its network namespace \/proc\/\d+\/ns\/net is gone/);
    await del(moved);
    t.match(
      execFileSync('nsenter', [`--net=${other.netns}`, 'ip', '-o', 'link'], { encoding: 'utf8' }),
      /eth0/,
      'the other namespace keeps its eth0',
    );
    t.same(leases(net), [], 'what needs no namespace is undone: the lease');
    // The pod's namespace really ends now; a DEL entering it would find its interface and
    // address but no ipMasq chain (removed above), which bridge 1.1.1 reports as an error.
    const veth = a.result!.interfaces![1].name;
    await holder.kill();
    await waitFor(`${veth} to go with the namespace`, () => !linkNames().includes(veth));
    await del(a);
    t.notOk(
      iptablesState().some((l) => l.includes(a.containerId)),
      'no rule of the container',
    );
  });

  t.test('a failed ADD (address range exhausted) undoes itself and names the plugin', async (t) => {
    const net = await testNetwork(t, { oneAddress: true });
    const [h1, h2] = [await netnsHolder(t), await netnsHolder(t)];
    const { a } = await attach(t, net, h1, [{ hostPort: await freeHostPort(), containerPort: 80, protocol: 'tcp' }]);
    const before = { links: linkNames(), ipt: iptablesState(), leases: leases(net) };
    let err: unknown;
    try {
      await attach(t, net, h2);
    } catch (e) {
      err = e;
    }
    t.type(err, CniError);
    t.match(
      (err as Error).message,
      new RegExp(
        `^network "${net.network.name}": plugin bridge failed ADD: failed to allocate for range 0: ` +
          'no IP addresses available in range set: [\\d.]+-[\\d.]+',
      ),
    );
    t.notMatch((err as Error).message, /\n/, 'one line');
    t.same(linkNames(), before.links, 'no veth is left on the host');
    t.same(iptablesState(), before.ipt, 'no rule is left');
    t.same(leases(net), before.leases, 'the first pod keeps its lease, nothing else');
    t.notMatch(
      execFileSync('nsenter', [`--net=${h2.netns}`, 'ip', '-o', 'link'], { encoding: 'utf8' }),
      /eth0/,
      'no eth0 in the namespace',
    );
    await check(a);
    t.pass('the first attachment is untouched');
  });

  t.test('a failed ADD (a plugin gone since the network was loaded) undoes itself', async (t) => {
    const bin = join(tempDir(t, 'cni-bin'), 'bin');
    mkdirSync(bin);
    for (const p of ['bridge', 'host-local', 'portmap']) copyFileSync(join(PLUGINS, p), join(bin, p));
    execFileSync('chmod', ['755', ...readdirSync(bin).map((p) => join(bin, p))]);
    const net = await testNetwork(t, { binDir: bin });
    unlinkSync(join(bin, 'portmap'));
    const holder = await netnsHolder(t);
    const before = { links: linkNames().filter((l) => l !== net.bridge), ipt: iptablesState() };
    await t.rejects(attach(t, net, holder, [{ hostPort: await freeHostPort(), containerPort: 80, protocol: 'tcp' }]), {
      name: 'CniError',
      message: new RegExp(`^network "${net.network.name}": plugin portmap failed ADD: not found in ${bin}$`),
    });
    t.same(
      linkNames().filter((l) => l !== net.bridge),
      before.links,
      'the veth made by bridge is gone',
    );
    t.same(iptablesState(), before.ipt, 'and its ipMasq rules');
    t.same(leases(net), [], 'and its lease');
  });

  t.test('CHECK passes on a good attachment and fails when it is broken', async (t) => {
    const net = await testNetwork(t);
    const [h1, h2] = [await netnsHolder(t), await netnsHolder(t)];
    const { a: a1 } = await attach(t, net, h1, [{ hostPort: await freeHostPort(), containerPort: 80, protocol: 'tcp' }]);
    const { a: a2 } = await attach(t, net, h2);
    await check(a1);
    await check(a2);
    t.pass("both pass (portmap 1.1.1's complaint about IPv6 rules it never made is passed over)");

    const ip1 = a1.result!.ips![0].address;
    execFileSync('nsenter', [`--net=${h1.netns}`, 'ip', 'addr', 'del', ip1, 'dev', 'eth0']);
    await t.rejects(check(a1), {
      name: 'CniError',
      message: new RegExp(`^network "${net.network.name}": plugin bridge failed CHECK: Failed to match addr ${ip1} on interface eth0`),
    });

    const veth = a2.result!.interfaces![1].name;
    execFileSync('ip', ['link', 'del', veth]);
    await t.rejects(check(a2), { name: 'CniError', message: new RegExp(`^network "${net.network.name}": plugin bridge failed CHECK: `) });

    // DEL of broken attachments still leaves nothing (bridge finds no address, or no interface,
    // and so leaves its ipMasq chain: tspod removes it).
    await cleanupSharedChains();
    await del(a1);
    await del(a2);
    t.same(leases(net), []);
    t.notOk(
      iptablesState().some((l) => l.includes(a1.containerId) || l.includes(a2.containerId)),
      'no rule of either container',
    );
  });

  t.test("the default network: written with the real plugins' version, loads; a foreign conf dir is left alone", async (t) => {
    const dir = join(tempDir(t, 'cni-default'), 'net.d');
    const file = await ensureDefaultNetwork(dir, { binDirs: [PLUGINS] });
    t.equal(file, join(dir, DEFAULT_NETWORK_FILE));
    t.ok(isTspodManaged(file!));
    const net = await loadNetwork(undefined, { confDir: dir, binDirs: [PLUGINS] });
    t.match(net, { name: 'tspod', cniVersion: '1.0.0', plugins: [{ type: 'bridge', bridge: 'tspod0' }, { type: 'portmap' }] });
    const subnet = (net.plugins[0].ipam as { ranges: { subnet: string }[][] }).ranges[0][0].subnet;
    t.notOk(
      hostNetworks().some((h) => cidrsOverlap(h, parseCidr(subnet)!)),
      `${subnet} overlaps nothing of the host`,
    );

    const foreign = tempDir(t, 'cni-foreign');
    writeFileSync(join(foreign, '10-other.conflist'), '{"cniVersion":"1.0.0","name":"other","plugins":[{"type":"bridge"}]}');
    t.equal(await ensureDefaultNetwork(foreign, { binDirs: [PLUGINS] }), null);
    t.same(readdirSync(foreign), ['10-other.conflist']);
  });

  t.test("the host's own namespace is refused before any plugin runs", async (t) => {
    const net = await testNetwork(t);
    const links = linkNames();
    await t.rejects(add(net.network, { containerId: 'host', netns: '/proc/thread-self/ns/net' }), /is the host's network namespace/);
    await t.rejects(add(net.network, { containerId: 'host', netns: `/proc/${process.pid}/ns/net` }), /is the host's network namespace/);
    t.same(linkNames(), links, 'nothing was created');
  });

  t.test('nothing of CNI is left in iptables by this file', async (t) => {
    await cleanupSharedChains();
    t.same(
      iptablesState().filter((l) => l.includes('CNI-')),
      cniLinesBefore,
      'no CNI- line beyond those there before',
    );
  });
}

if (!skip) run();
