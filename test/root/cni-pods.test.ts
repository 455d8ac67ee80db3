// Pods on a CNI network through tspod: addresses on a bridge, pods reaching each other,
// portmap, CHECK, and a DEL on every way a pod can end, compared against links, iptables and
// the IPAM leases from before. Each test runs on a network of its own (own bridge, subnet and
// lease directory, in a conf dir of its own), and deletes its bridge at the end.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { cleanup, keepSysctl, tempDir } from '../helpers/cleanup.js';
import { alive, waitFor } from '../helpers/proc.js';
import { testState, type TestState } from '../helpers/state.js';
import type { CliRun } from '../helpers/cli.js';
import { freeHostPort } from '../helpers/net.js';
import { busyboxRoot, haveBusybox, NO_BUSYBOX } from '../helpers/busybox.js';
import { exclusive } from '../helpers/exclusive.js';
import { cleanupSharedChains } from '../../src/net/cni.js';

const skip = !isRoot
  ? NOT_ROOT
  : !existsSync('/usr/lib/cni/bridge')
    ? 'needs the CNI plugins (Debian: containernetworking-plugins)'
    : undefined;
if (skip) t.plan(0, skip);
else {
  t.before(async () => {
    await exclusive(t, 'netfilter');
    // The bridge plugin (isGateway) turns IPv4 forwarding on for the host; put back at the end
    // (read under the lock: another file's pods may have it on for a while).
    keepSysctl(t, 'net/ipv4/ip_forward');
    // portmap's CNI-HOSTPORT-* chains are shared by every network: removed once no pod uses them.
    cleanup(t, 'remove the shared CNI chains', () => cleanupSharedChains());
  });
}

const snapshot = () => ({
  // Names only: flags such as a bridge's NO-CARRIER come and go with its ports.
  links: execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(': ')[1])
    .filter(Boolean)
    .sort(),
  iptables: execFileSync('iptables-save', { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .join('\n'),
});

interface Net {
  name: string;
  bridge: string;
  gateway: string;
  leases: string;
  env: NodeJS.ProcessEnv;
}

/**
 * A CNI network of the test's own: bridge + host-local + portmap, in its own conf dir; plugins
 * in `binDir` come before the installed ones.
 */
function privateNetwork(t: Test, binDir?: string): Net {
  const id = randomBytes(3).toString('hex');
  const dir = tempDir(t, 'cni');
  const conf = join(dir, 'net.d');
  const leases = join(dir, 'leases');
  mkdirSync(conf);
  const x = 1 + (randomBytes(1)[0] % 250);
  const net = { name: `tspodt-${id}`, bridge: `tspt${id}`, gateway: `10.212.${x}.1`, leases: join(leases, `tspodt-${id}`) };
  writeFileSync(
    join(conf, '10-test.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: net.name,
      plugins: [
        {
          type: 'bridge',
          bridge: net.bridge,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: { type: 'host-local', subnet: `10.212.${x}.0/24`, dataDir: leases, routes: [{ dst: '0.0.0.0/0' }] },
        },
        { type: 'portmap', capabilities: { portMappings: true }, snat: true },
      ],
    }),
  );
  cleanup(t, `delete bridge ${net.bridge}`, () => {
    // The bridge plugin makes it at the first ADD: a test that failed before has none.
    if (existsSync(`/sys/class/net/${net.bridge}`)) execFileSync('ip', ['link', 'del', net.bridge]);
  });
  return { ...net, env: { TSPOD_CNI_CONF_DIR: conf, ...(binDir ? { TSPOD_CNI_BIN_DIRS: `${binDir}:/usr/lib/cni` } : {}) } };
}

/** Leases are files named by IP in host-local's directory (its lock and last-reserved files aside). */
const leases = (net: Net) => (existsSync(net.leases) ? readdirSync(net.leases).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : []);

async function server(s: TestState, pod: string, net: Net, extra: string[] = []) {
  const r = await s.cli([
    'run',
    '-d',
    '--name',
    pod,
    '--network',
    `cni:${net.name}`,
    ...extra,
    '--',
    'node',
    '-e',
    "require('net').createServer((c) => c.end(require('os').hostname() + '\\n')).listen(80)",
  ]);
  if (r.code !== 0) throw new Error(r.stderr);
  return s.store.read(pod)!;
}

t.test('two pods get distinct addresses on the bridge, and reach each other', async (t) => {
  const net = privateNetwork(t);
  const s = testState(t, net.env);
  const a = await server(s, 'cni-a', net);
  const b = await server(s, 'cni-b', net);
  const ipA = a.network?.podIP;
  const ipB = b.network?.podIP;
  t.match(ipA, /^10\.212\.\d+\.\d+$/);
  t.match(ipB, /^10\.212\.\d+\.\d+$/);
  t.not(ipA, ipB, 'distinct addresses');
  t.same(leases(net).sort(), [ipA, ipB].sort(), 'host-local leased exactly those two');
  const reply = await waitFor('a reaching b', async () => {
    const r = await s.cli([
      'exec',
      'cni-a',
      'cni-a',
      '--',
      'node',
      '-e',
      `require('net').connect(80, '${ipB}').on('data', (d) => process.stdout.write(d)).on('error', (e) => console.log(e.code))`,
    ]);
    return r.stdout.startsWith('cni-b') ? r.stdout : undefined;
  }).catch((e) => String(e));
  t.equal(reply, 'cni-b\n', "a reaches b's server at b's address");
  t.match(
    (await s.cli(['pod', 'ls'])).stdout,
    new RegExp(`cni-a +running .* cni +${ipA!.replace(/\./g, '\\.')} `),
    'pod ls shows the address',
  );
  t.match((await s.cli(['inspect', 'cni-b'])).stdout, `network cni, IP ${ipB}`);
  t.equal((await s.cli(['pod', 'check', 'cni-a'])).stdout, `pod cni-a: its CNI attachment (${ipA}) is intact\n`);
});

t.test(
  "a container added later to a pod on a CNI network finds the pod's address in /etc/hosts",
  { skip: !haveBusybox && NO_BUSYBOX },
  async (t) => {
    const net = privateNetwork(t);
    const s = testState(t, net.env);
    const created = await s.cli(['pod', 'create', 'cni-late', '--network', `cni:${net.name}`]);
    t.equal(created.code, 0, created.stderr);
    const ip = s.store.read('cni-late')!.network?.podIP;
    t.match(ip, /^10\.212\.\d+\.\d+$/);
    const root = busyboxRoot(tempDir(t, 'root'));
    const added = await s.cli([
      'run',
      '-d',
      '--pod',
      'cni-late',
      '--name',
      'look',
      '--rootfs',
      root,
      '--',
      '/bin/sh',
      '-c',
      'cat /etc/hosts; sleep 1000',
    ]);
    t.equal(added.code, 0, added.stderr);
    const hosts = await waitFor('its output', async () => {
      const out = (await s.cli(['logs', 'cni-late', 'look'])).stdout;
      return out.includes('cni-late') && out;
    });
    t.match(hosts, new RegExp(`^${ip!.replace(/\./g, '\\.')}\tcni-late$`, 'm'), 'hosts names the pod at its address');
  },
);

t.test('portmap publishes a port; CHECK reports a broken attachment', async (t) => {
  const net = privateNetwork(t);
  const s = testState(t, net.env);
  const port = await freeHostPort();
  const rec = await server(s, 'cni-pub', net, ['-p', `${port}:80`]);
  const { connect } = await import('node:net');
  const ask = () =>
    new Promise<string>((resolve) => {
      connect(port, net.gateway)
        .on('data', (d) => resolve(String(d)))
        .on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
  // The server in the pod may still be starting when run -d returns.
  const fromHost = await waitFor('the published port', async () => ((await ask()) === 'cni-pub\n' ? 'cni-pub\n' : undefined)).catch(() =>
    ask(),
  );
  t.equal(fromHost, 'cni-pub\n', "the host port reaches the pod (kernel DNAT on the bridge's address)");
  execFileSync('nsenter', ['-t', String(rec.infra!.process.pid), '-n', 'ip', 'link', 'del', 'eth0']);
  const check = await s.cli(['pod', 'check', 'cni-pub']);
  t.equal(check.code, 125);
  // One line naming the network, the plugin, the command and the missing interface.
  const line = new RegExp(`^tspod: network "${net.name}": plugin bridge failed CHECK: .*\\beth0\\b.*\\n$`);
  t.match(check.stderr, line, 'CHECK fails in one line naming the network, the plugin and eth0');
});

t.test('DEL on every way a detached pod ends, when it ends: nothing of it stays, before and after rm', async (t) => {
  const net = privateNetwork(t);
  const s = testState(t, net.env);
  // The bridge and the shared chains come with the first pod: take the snapshot with them there.
  await server(s, 'warm', net);
  t.equal((await s.cli(['rm', '-f', 'warm'])).code, 0);
  const before = snapshot();
  const ok = async (args: string[]) => t.equal((await s.cli(args)).code, 0, `tspod ${args.join(' ')}`);

  // How each pod ends; `rm` is what removes it afterwards, for a pod that ended without it.
  const ends: { how: string; end: (pod: string) => Promise<unknown>; rm?: string[] }[] = [
    { how: 'stopped', end: (pod) => ok(['stop', pod, '--grace', '1']), rm: ['rm'] },
    {
      how: 'its infra killed',
      end: async (pod) => {
        process.kill(s.store.read(pod)!.infra!.process.pid, 'SIGKILL');
        await waitFor('the pod to fail', () => s.store.read(pod)?.state === 'failed');
      },
      rm: ['rm'],
    },
    { how: 'rm -f', end: (pod) => ok(['rm', '-f', pod]) },
    {
      how: 'the monitor killed, then rm -f without a monitor',
      end: async (pod) => {
        await s.killMonitor();
        await ok(['rm', '-f', pod]);
      },
    },
  ];
  for (const [i, { how, end, rm }] of ends.entries()) {
    const pod = `end-${i}`;
    const rec = await server(s, pod, net, ['-p', `${await freeHostPort()}:80`]);
    t.equal(leases(net).length, 1, `${how}: one lease while it runs`);
    await end(pod);
    t.notOk(alive(rec.infra!.process), `${how}: the infra is gone`);
    t.same(leases(net), [], `${how}: no lease left${rm ? ', before any rm' : ''}`);
    t.same(snapshot(), before, `${how}: no link and no iptables rule left${rm ? ', before any rm' : ''}`);
    t.notOk(existsSync(s.store.paths.podNetwork(pod)), `${how}: its attachment cache is gone`);
    if (rm) {
      await ok([...rm, pod]);
      t.same([leases(net), snapshot()], [[], before], `${how}: and after rm, still nothing`);
    }
  }

  // A failed start: the ADD is undone with the rest.
  const failed = await s.cli(['run', '-d', '--name', 'end-fail', '--network', `cni:${net.name}`, '--', '/nonexistent/program']);
  t.equal(failed.code, 127);
  t.same(leases(net), [], 'failed start: no lease left');
  t.same(snapshot(), before, 'failed start: no link and no rule left');
});

t.test(
  'a foreground pod on a CNI network: DEL on Ctrl-C, when its last container exits, and at rm after tspod was SIGKILLed',
  async (t) => {
    const net = privateNetwork(t);
    const s = testState(t, net.env);
    await server(s, 'warm', net);
    t.equal((await s.cli(['rm', '-f', 'warm'])).code, 0);
    const before = snapshot();
    const dir = tempDir(t, 'fg');

    for (const [how, finish, code] of [
      ['Ctrl-C', (run: CliRun) => run.child.kill('SIGINT'), 130],
      ['its container exited', () => writeFileSync(join(dir, 'go'), ''), 0],
      ['tspod SIGKILLed', (run: CliRun) => run.child.kill('SIGKILL'), 137],
    ] as const) {
      rmSync(join(dir, 'go'), { force: true });
      const pod = `fg-${code}`;
      const run = s.start([
        'run',
        '--name',
        pod,
        '--network',
        `cni:${net.name}`,
        '--',
        'sh',
        '-c',
        `echo ready; until [ -e ${dir}/go ]; do sleep 0.05; done`,
      ]);
      await waitFor(`${pod} to run`, () => run.stdout().includes('ready') || undefined);
      const infra = s.store.read(pod)!.infra!.process;
      t.equal(leases(net).length, 1, `${how}: one lease while it runs`);
      finish(run);
      t.equal(await run.done, code, `${how}: tspod exits ${code}`);
      // After a SIGKILL of tspod, its PDEATHSIG reaches the infra a moment later.
      await waitFor(`${how}: the infra to be gone`, () => !alive(infra) || undefined);
      t.pass(`${how}: the infra is gone`);
      if (how === 'tspod SIGKILLed') {
        // Nothing of tspod is left to DEL: the next command that removes the name does it.
        t.equal((await s.cli(['rm', pod])).code, 0, 'rm of the pod its dead tspod left');
      }
      t.same(leases(net), [], `${how}: no lease left`);
      await waitFor(`${how}: the veth to go with the namespace`, () =>
        JSON.stringify(snapshot()) === JSON.stringify(before) ? true : undefined,
      ).catch(() => undefined);
      t.same(snapshot(), before, `${how}: no link and no iptables rule left`);
      t.same(s.store.names(), [], `${how}: no pod left in the state directory`);
    }
  },
);

t.test('a crash in the middle of ADD: the infra and what the plugins did are undone by rm -f', async (t) => {
  // A bridge plugin that does its ADD, then holds the result until the test says go: tspod (or
  // the monitor) is killed after the kernel objects exist and before it has heard of them.
  const bin = tempDir(t, 'cni-bin');
  const hold = tempDir(t, 'cni-hold');
  writeFileSync(
    join(bin, 'bridge'),
    `#!/bin/sh
out=$(/usr/lib/cni/bridge); rc=$?
if [ "$CNI_COMMAND" = ADD ]; then
  echo $$ > ${hold}/held
  until [ -e ${hold}/go ]; do sleep 0.05; done
fi
printf '%s' "$out"
exit $rc
`,
    { mode: 0o755 },
  );
  const net = privateNetwork(t, bin);
  const s = testState(t, net.env);
  writeFileSync(join(hold, 'go'), '');
  await server(s, 'warm', net);
  t.equal((await s.cli(['rm', '-f', 'warm'])).code, 0);
  const before = snapshot();

  for (const how of ['foreground tspod', 'monitor'] as const) {
    for (const f of ['go', 'held']) rmSync(join(hold, f), { force: true });
    const pod = how === 'monitor' ? 'mid-detached' : 'mid-fg';
    const args = ['run', ...(how === 'monitor' ? ['-d'] : []), '--name', pod, '--network', `cni:${net.name}`, '--', 'sleep', '1000'];
    const run = s.start(args);
    const plugin = await waitFor(`${how}: the plugin to hold its result`, () => {
      try {
        return Number(readFileSync(join(hold, 'held'), 'utf8'));
      } catch {
        return undefined;
      }
    });
    t.equal(leases(net).length, 1, `${how}: the plugin leased an address`);
    if (how === 'monitor') await s.killMonitor();
    else run.child.kill('SIGKILL');
    writeFileSync(join(hold, 'go'), '');
    await waitFor(`${how}: the plugin to finish`, () => !existsSync(`/proc/${plugin}`) || undefined);
    t.not(await run.done, 0, `${how}: the run fails`);
    // The record names the infra already, though the pod is still being created.
    const infra = s.store.read(pod)?.infra?.process;
    t.ok(infra, `${how}: the record of the pod being created names its infra`);
    t.equal((await s.cli(['rm', '-f', pod])).code, 0, `${how}: rm -f`);
    await waitFor(`${how}: the infra to be gone`, () => !alive(infra!) || undefined);
    t.pass(`${how}: the infra is gone`);
    t.same(leases(net), [], `${how}: no lease left`);
    await waitFor(`${how}: the veth to go with the namespace`, () =>
      JSON.stringify(snapshot()) === JSON.stringify(before) ? true : undefined,
    ).catch(() => undefined);
    t.same(snapshot(), before, `${how}: no link and no iptables rule left`);
  }
});

/** Why the host's own CNI set-up is not ours to use, if it is not. */
function hostCniInUse(): string | undefined {
  const conf = '/etc/cni/net.d';
  if (existsSync(conf) && readdirSync(conf).length) return `${conf} is not empty: the default network is written only where there is none`;
  if (existsSync('/sys/class/net/tspod0')) return 'a tspod0 bridge exists already';
  if (existsSync('/run/cni/networks/tspod')) return 'host-local leases of a network "tspod" exist already';
  return undefined;
}

t.test(
  'the default network: with /etc/cni/net.d empty, --network cni writes tspod.conflist, and the pod is on tspod0',
  { skip: !skip && hostCniInUse() },
  async (t) => {
    // What this test makes outside its own directories, undone in reverse: the directories it
    // had to create, the file tspod writes, the lease directory, the bridge.
    for (const dir of ['/etc/cni', '/etc/cni/net.d', '/run/cni', '/run/cni/networks']) {
      if (!existsSync(dir)) cleanup(t, `remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
    }
    cleanup(t, 'remove tspod.conflist', () => rmSync('/etc/cni/net.d/tspod.conflist', { force: true }));
    cleanup(t, 'remove the leases of network tspod', () => rmSync('/run/cni/networks/tspod', { recursive: true, force: true }));
    cleanup(t, 'delete bridge tspod0', () => existsSync('/sys/class/net/tspod0') && execFileSync('ip', ['link', 'del', 'tspod0']));
    const s = testState(t);
    const port = await freeHostPort();
    const r = await s.cli([
      'run',
      '-d',
      '--name',
      'dflt',
      '--network',
      'cni',
      '-p',
      `${port}:80`,
      '--',
      'node',
      '-e',
      "require('net').createServer((c) => c.end(require('os').hostname() + '\\n')).listen(80)",
    ]);
    t.equal(r.code, 0, r.stderr);

    const conf = JSON.parse(readFileSync('/etc/cni/net.d/tspod.conflist', 'utf8')) as {
      name: string;
      tspod?: { managed?: boolean };
      plugins: { type: string; bridge?: string; ipam?: { ranges: { subnet: string }[][] } }[];
    };
    t.same([conf.name, conf.tspod?.managed], ['tspod', true], 'tspod.conflist: network "tspod", marked as written by tspod');
    t.same(
      conf.plugins.map((p) => p.type),
      ['bridge', 'portmap'],
    );
    t.equal(conf.plugins[0].bridge, 'tspod0');
    const subnet = conf.plugins[0].ipam!.ranges[0][0].subnet;
    t.match(subnet, /^10\.(209|219|229|239)\.0\.0\/16$/, 'one of the documented subnets');
    const prefix = subnet.split('.').slice(0, 2).join('.');

    const rec = s.store.read('dflt')!;
    const ip = rec.network?.podIP;
    t.match(ip, new RegExp(`^${prefix.replace('.', '\\.')}\\.`), `the pod's address is in ${subnet}`);
    const inPod = execFileSync('nsenter', ['-t', String(rec.infra!.process.pid), '-n', 'ip', '-o', '-4', 'addr', 'show', 'eth0'], {
      encoding: 'utf8',
    });
    t.match(inPod, ` ${ip}/16 `, "the pod's eth0 holds it");
    t.match(
      execFileSync('ip', ['-o', '-4', 'addr', 'show', 'tspod0'], { encoding: 'utf8' }),
      ` ${prefix}.0.1/16 `,
      'tspod0 is the gateway',
    );
    t.ok(existsSync(`/run/cni/networks/tspod/${ip}`), 'host-local leased it under /run/cni/networks');

    const { connect } = await import('node:net');
    const ask = (host: string, p: number) =>
      new Promise<string>((resolve) => {
        connect(p, host)
          .on('data', (d) => resolve(String(d)))
          .on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      });
    t.equal(await waitFor('the server in the pod', async () => ((await ask(ip!, 80)) === 'dflt\n' ? 'dflt\n' : undefined)), 'dflt\n');
    t.equal(await ask(`${prefix}.0.1`, port), 'dflt\n', 'the published port reaches it through portmap');

    t.equal((await s.cli(['rm', '-f', 'dflt'])).code, 0);
    t.notOk(existsSync(`/run/cni/networks/tspod/${ip}`), 'rm -f gave the address back');
    t.ok(existsSync('/etc/cni/net.d/tspod.conflist'), 'the network stays for the next pod');
  },
);

t.test("the downward API: a container's environment has the pod's name, uid, labels and CNI address, as its record has them", async (t) => {
  const net = privateNetwork(t);
  const s = testState(t, net.env);
  const file = join(tempDir(t, 'manifest'), 'downward.yaml');
  const env = (name: string, fieldPath: string) => `{name: ${name}, valueFrom: {fieldRef: {fieldPath: "${fieldPath}"}}}`;
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Pod',
      `metadata: {name: down, labels: {app: shop}, annotations: {tspod.io/network: "cni:${net.name}"}}`,
      'spec:',
      '  containers:',
      '  - name: a',
      '    command: [sh, -c, \'echo "$POD $UID $APP $IP $MEM"; exec sleep 1000\']',
      '    resources: {limits: {memory: 64Mi}}',
      '    env:',
      `    - ${env('POD', 'metadata.name')}`,
      `    - ${env('UID', 'metadata.uid')}`,
      `    - ${env('APP', "metadata.labels['app']")}`,
      `    - ${env('IP', 'status.podIP')}`,
      '    - {name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}',
      '',
    ].join('\n'),
  );
  const r = await s.cli(['run', '-d', '-f', file]);
  t.equal(r.code, 0, r.stderr);
  const rec = s.store.read('down')!;
  t.match(rec.spec.uid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'the pod got a uid of its own');
  t.match(rec.network?.podIP, /^10\.212\.\d+\.\d+$/);
  const line = await waitFor('its line', async () => (await s.cli(['logs', 'down', 'a'])).stdout || undefined);
  t.equal(line, `down ${rec.spec.uid} shop ${rec.network!.podIP} 64\n`);
  t.match((await s.cli(['inspect', 'down'])).stdout, `network cni, IP ${rec.network!.podIP}`, 'the address inspect reports');
});
