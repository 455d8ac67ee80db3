// The CNI client against fake plugins: shell scripts in a private bin dir that log what they
// were given (stdin and environment) and answer what each test tells them. No root needed: the
// namespaces are made in a user namespace; where that is not allowed those tests are skipped.
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, tempDir } from '../helpers/cleanup.js';
import { waitFor } from '../helpers/proc.js';
import { InputError, TspodError } from '../../src/errors.js';
import {
  add,
  check,
  del,
  fromCache,
  pluginConfig,
  podIP,
  toCache,
  CniError,
  type CniAttachment,
  type CniResult,
} from '../../src/net/cni.js';
import {
  cidrsOverlap,
  confFiles,
  DEFAULT_NETWORK_FILE,
  defaultNetworkConfig,
  ensureDefaultNetwork,
  isTspodManaged,
  listNetworks,
  loadNetwork,
  parseCidr,
  parseNetworkConfig,
  type CniNetwork,
} from '../../src/net/cni-config.js';
import { oneLine, parseErrorObject, pluginVersions, PLUGIN_PATH } from '../../src/net/cni-exec.js';
import { masqueradeChainName, parseSave, removalScript } from '../../src/net/cni-iptables.js';

/** What a fake plugin does for one command. */
interface Reply {
  /** Printed on stdout (objects as JSON). */
  out?: unknown;
  exit?: number;
  stderr?: string;
  /** Starts a grandchild (its pid in LOG/grandchild) and waits for it: a plugin that hangs. */
  hang?: boolean;
}

interface Fake {
  add?: Reply;
  del?: Reply;
  check?: Reply;
  versions?: string[];
}

const ALL_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0'];

function shQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function replyScript(r: Reply | undefined, log: string): string {
  if (!r) return 'exit 0';
  const lines: string[] = [];
  if (r.stderr) lines.push(`printf '%s\\n' ${shQuote(r.stderr)} >&2`);
  if (r.hang) lines.push(`sleep 1000 & echo $! > ${shQuote(join(log, 'grandchild'))}; wait`);
  if (r.out !== undefined) lines.push(`printf '%s' ${shQuote(typeof r.out === 'string' ? r.out : JSON.stringify(r.out))}`);
  lines.push(`exit ${r.exit ?? 0}`);
  return lines.join('\n    ');
}

/** A bin dir with fake plugins that log every call into `log`. */
class FakePlugins {
  readonly bin: string;
  readonly log: string;

  constructor(t: Test) {
    const dir = tempDir(t, 'cni-fake');
    this.bin = join(dir, 'bin');
    this.log = join(dir, 'log');
    mkdirSync(this.bin);
    mkdirSync(this.log);
  }

  write(type: string, fake: Fake = {}): void {
    const script = `#!/bin/sh
LOG=${shQuote(this.log)}
seq=$(( $(cat "$LOG/.seq" 2>/dev/null || echo 0) + 1 ))
echo $seq > "$LOG/.seq"
base="$LOG/$(printf %04d $seq)~${type}~$CNI_COMMAND"
cat > "$base.stdin"
env -0 > "$base.env"
case "$CNI_COMMAND" in
  VERSION)
    printf '%s' ${shQuote(JSON.stringify({ cniVersion: '1.0.0', supportedVersions: fake.versions ?? ALL_VERSIONS }))};;
  ADD)
    ${replyScript(fake.add ?? { out: { cniVersion: '1.0.0' } }, this.log)};;
  DEL)
    ${replyScript(fake.del, this.log)};;
  CHECK)
    ${replyScript(fake.check, this.log)};;
esac
`;
    const path = join(this.bin, type);
    writeFileSync(path, script);
    chmodSync(path, 0o755);
  }

  /** Every call but VERSION, in order. */
  calls(): { type: string; command: string; stdin: Record<string, unknown>; env: Record<string, string> }[] {
    return readdirSync(this.log)
      .filter((f) => f.endsWith('.stdin') && !f.endsWith('~VERSION.stdin'))
      .sort()
      .map((f) => {
        const [, type, command] = f.replace(/\.stdin$/, '').split('~');
        const base = join(this.log, f.replace(/\.stdin$/, ''));
        const env = Object.fromEntries(
          readFileSync(`${base}.env`, 'utf8')
            .split('\0')
            .filter(Boolean)
            .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
        );
        return { type, command, stdin: JSON.parse(readFileSync(`${base}.stdin`, 'utf8')) as Record<string, unknown>, env };
      });
  }

  clear(): void {
    for (const f of readdirSync(this.log)) rmSync(join(this.log, f));
  }
}

function confDir(t: Test, files: Record<string, unknown>): string {
  const dir = tempDir(t, 'cni-conf');
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

const list = (name: string, plugins: unknown[], extra: Record<string, unknown> = {}) => ({ cniVersion: '1.0.0', name, plugins, ...extra });

async function rejectsWith(t: Test, p: Promise<unknown>, pattern: RegExp, type?: new (...a: never[]) => Error): Promise<Error | undefined> {
  try {
    await p;
    t.fail(`expected a rejection matching ${pattern}`);
    return undefined;
  } catch (err) {
    if (type) t.type(err, type);
    t.match((err as Error).message, pattern);
    t.notMatch((err as Error).message, /\n/, 'the message is one line');
    return err as Error;
  }
}

t.test('configuration files: extensions, order, promotion of single plugins', async (t) => {
  const fake = new FakePlugins(t);
  fake.write('a');
  const dir = confDir(t, {
    'b.conflist': list('second', [{ type: 'a' }]),
    '10-x.conf': { cniVersion: '0.4.0', name: 'single', type: 'a', ipam: {} },
    'a.json': { cniVersion: '1.0.0', name: 'json', type: 'a' },
    'README.md': 'not a configuration',
    'c.conflist.bak': 'ignored',
  });
  mkdirSync(join(dir, 'sub.conf'));
  t.same(
    confFiles(dir).map((f) => f.slice(dir.length + 1)),
    ['10-x.conf', 'a.json', 'b.conflist'],
    'name order, configuration extensions only',
  );

  const first = await loadNetwork(undefined, { confDir: dir, binDirs: [fake.bin] });
  t.equal(first.name, 'single', 'no name: the first file in name order');
  t.equal(first.cniVersion, '0.4.0');
  t.same(first.plugins, [{ cniVersion: '0.4.0', name: 'single', type: 'a', ipam: {} }], 'a .conf becomes a list of one');
  t.equal(first.file, join(dir, '10-x.conf'));
  t.same(first.binDirs, [fake.bin]);

  const second = await loadNetwork('second', { confDir: dir, binDirs: [fake.bin] });
  t.equal(second.name, 'second', 'by name');
  t.equal((await loadNetwork('json', { confDir: dir, binDirs: [fake.bin] })).plugins.length, 1, '.json is a single plugin too');

  await rejectsWith(
    t,
    loadNetwork('nope', { confDir: dir, binDirs: [fake.bin] }),
    /no CNI network named "nope" in .* \(networks there: single, json, second\)/,
  );
  await rejectsWith(
    t,
    loadNetwork(undefined, { confDir: join(dir, 'missing'), binDirs: [fake.bin] }),
    /no CNI network configuration in .*missing/,
  );
  const entries = await listNetworks({ confDir: dir, binDirs: [fake.bin] });
  t.same(
    entries.map((e) => [e.name, !!e.network]),
    [
      ['single', true],
      ['json', true],
      ['second', true],
    ],
  );
});

t.test('an invalid file is refused with its name and the field or plugin', async (t) => {
  const fake = new FakePlugins(t);
  fake.write('a');
  fake.write('old', { versions: ['0.3.0', '0.3.1', '0.4.0'] });
  const cases: [string, unknown, RegExp][] = [
    ['json.conflist', '{ "name": ', /json\.conflist: \(file\): not JSON/],
    ['name.conflist', list('bad name!', [{ type: 'a' }]), /name\.conflist: name: "bad name!" is not a CNI network name/],
    ['version.conflist', { name: 'v', cniVersion: '0.2.0', plugins: [{ type: 'a' }] }, /version\.conflist: cniVersion: 0\.2\.0 is too old/],
    [
      'version2.conflist',
      { name: 'v2', cniVersion: 'one', plugins: [{ type: 'a' }] },
      /version2\.conflist: cniVersion: "one" is not a version/,
    ],
    ['empty.conflist', list('empty', []), /empty\.conflist: plugins: must be a non-empty list/],
    [
      'missing.conflist',
      list('missing', [{ type: 'a' }, { type: 'nosuch' }]),
      /missing\.conflist: plugins\[1\]\.type: plugin "nosuch" not found in .*bin/,
    ],
    [
      'ipam.conflist',
      list('ipam', [{ type: 'a', ipam: { type: 'nosuch-ipam' } }]),
      /ipam\.conflist: plugins\[0\]\.ipam\.type: IPAM plugin "nosuch-ipam" not found/,
    ],
    ['path.conflist', list('path', [{ type: '../a' }]), /path\.conflist: plugins\[0\]\.type: "\.\.\/a" is not a file name/],
    [
      'caps.conflist',
      list('caps', [{ type: 'a', capabilities: { portMappings: 'yes' } }]),
      /caps\.conflist: plugins\[0\]\.capabilities\.portMappings: must be true or false/,
    ],
    ['check.conflist', list('check', [{ type: 'a' }], { disableCheck: 'maybe' }), /check\.conflist: disableCheck: must be true or false/],
    ['single.conf', { cniVersion: '1.0.0', name: 'single', plugins: [] }, /single\.conf: plugins: a list belongs in a \.conflist file/],
    ['notype.conf', { cniVersion: '1.0.0', name: 'notype' }, /notype\.conf: type: must be a non-empty string/],
    [
      'old.conflist',
      list('old', [{ type: 'a' }, { type: 'old' }]),
      new RegExp(
        String.raw`old\.conflist: plugins\[1\]\.type: plugin "old" \(.*/old\) does not support cniVersion 1\.0\.0 ` +
          String.raw`\(it supports 0\.3\.0, 0\.3\.1, 0\.4\.0\)`,
      ),
    ],
  ];
  for (const [file, content, pattern] of cases) {
    const dir = confDir(t, { [file]: content });
    const named = (content as { name?: unknown }).name;
    const err = await rejectsWith(
      t,
      loadNetwork(typeof named === 'string' && /^[a-z0-9]+$/.test(named) ? named : undefined, { confDir: dir, binDirs: [fake.bin] }),
      pattern,
    );
    t.ok(err instanceof TspodError, `${file}: a TspodError (exit status 125)`);
  }

  // parseNetworkConfig alone gives the InputError with its parts.
  try {
    parseNetworkConfig(JSON.stringify(list('m', [{ type: 'nosuch' }])), '/x/m.conflist', [fake.bin]);
    t.fail('expected an error');
  } catch (err) {
    t.type(err, InputError);
    t.equal((err as InputError).file, '/x/m.conflist');
    t.equal((err as InputError).field, 'plugins[0].type');
  }
});

t.test('without a name an invalid file is passed over; with its name it is the error', async (t) => {
  const fake = new FakePlugins(t);
  fake.write('a');
  const dir = confDir(t, {
    '10-broken.conflist': list('broken', [{ type: 'gone' }]),
    '20-good.conflist': list('good', [{ type: 'a' }]),
    '30-good.conflist': list('good', [{ type: 'a' }, { type: 'a' }]),
  });
  t.equal((await loadNetwork(undefined, { confDir: dir, binDirs: [fake.bin] })).name, 'good', 'the first valid one');
  t.equal((await loadNetwork('good', { confDir: dir, binDirs: [fake.bin] })).plugins.length, 1, 'the first file of that name wins');
  await rejectsWith(
    t,
    loadNetwork('broken', { confDir: dir, binDirs: [fake.bin] }),
    /10-broken\.conflist: plugins\[0\]\.type: plugin "gone" not found/,
  );

  const allBad = confDir(t, { '1.conflist': list('x', [{ type: 'gone' }]), '2.conf': '{' });
  await rejectsWith(
    t,
    loadNetwork(undefined, { confDir: allBad, binDirs: [fake.bin] }),
    /no valid CNI network in .*: .*1\.conflist: plugins\[0\]\.type: plugin "gone" not found .* \(and 1 more invalid file\)/,
  );
});

t.test('the default network: written only into an empty conf dir, never over anything', async (t) => {
  const fake = new FakePlugins(t);
  for (const p of ['bridge', 'host-local', 'portmap']) fake.write(p);
  const root = tempDir(t, 'cni-default');
  const dir = join(root, 'net.d');

  const file = await ensureDefaultNetwork(dir, { binDirs: [fake.bin], subnet: '10.209.0.0/16' });
  t.equal(file, join(dir, DEFAULT_NETWORK_FILE), 'written into a conf dir that did not exist');
  t.same(readdirSync(dir), [DEFAULT_NETWORK_FILE], 'no temporary file is left');
  t.equal(statSync(file!).mode & 0o777, 0o644);
  const doc = JSON.parse(readFileSync(file!, 'utf8'));
  t.same(doc, defaultNetworkConfig('1.0.0', '10.209.0.0/16'));
  t.match(doc.plugins[0], {
    type: 'bridge',
    bridge: 'tspod0',
    isGateway: true,
    ipMasq: true,
    hairpinMode: true,
    ipam: { type: 'host-local', dataDir: '/run/cni/networks' },
  });
  t.same(doc.plugins[1], { type: 'portmap', capabilities: { portMappings: true } });
  t.ok(isTspodManaged(file!), "marked as tspod's");
  const net = await loadNetwork(undefined, { confDir: dir, binDirs: [fake.bin] });
  t.equal(net.name, 'tspod', 'it loads');
  t.notOk('tspod' in net.plugins[0], 'the marker is a top-level key: no plugin receives it');

  const before = statSync(file!).mtimeMs;
  t.equal(await ensureDefaultNetwork(dir, { binDirs: [fake.bin] }), null, 'a second call changes nothing');
  t.equal(statSync(file!).mtimeMs, before);

  // A foreign configuration, valid or not, is never touched, and no default appears beside it.
  for (const [name, content] of [
    ['87-podman.conflist', JSON.stringify(list('podman', [{ type: 'bridge' }]))],
    ['99-broken.conf', '{'],
  ]) {
    const foreign = join(root, name.replace(/\W/g, ''));
    mkdirSync(foreign);
    writeFileSync(join(foreign, name), content);
    const mtime = statSync(join(foreign, name)).mtimeMs;
    t.equal(await ensureDefaultNetwork(foreign, { binDirs: [fake.bin] }), null, `${name}: nothing written`);
    t.same(readdirSync(foreign), [name]);
    t.equal(readFileSync(join(foreign, name), 'utf8'), content, `${name}: unchanged`);
    t.equal(statSync(join(foreign, name)).mtimeMs, mtime);
    t.notOk(isTspodManaged(join(foreign, name)));
  }
  const lookalike = join(root, 'lookalike');
  mkdirSync(lookalike);
  writeFileSync(join(lookalike, DEFAULT_NETWORK_FILE), JSON.stringify(list('tspod', [{ type: 'bridge' }])));
  t.notOk(isTspodManaged(join(lookalike, DEFAULT_NETWORK_FILE)), "a tspod.conflist without the marker is not tspod's");

  // Racing writers: exactly one file, written by one of them.
  const race = join(root, 'race');
  const results = await Promise.all([1, 2, 3].map(() => ensureDefaultNetwork(race, { binDirs: [fake.bin], subnet: '10.219.0.0/16' })));
  t.equal(results.filter((r) => r !== null).length, 1, 'one writer wins');
  t.same(readdirSync(race), [DEFAULT_NETWORK_FILE]);
});

t.test('the default network: cniVersion the plugins share, missing plugins, subnets', async (t) => {
  const fake = new FakePlugins(t);
  fake.write('bridge', { versions: ['0.3.1', '0.4.0'] });
  fake.write('host-local');
  const dir = join(tempDir(t, 'cni-default2'), 'net.d');
  await rejectsWith(
    t,
    ensureDefaultNetwork(dir, { binDirs: [fake.bin] }),
    /cannot write the default CNI network: plugin portmap not found in .*containernetworking-plugins/,
  );
  t.notOk(existsSync(join(dir, DEFAULT_NETWORK_FILE)));
  fake.write('portmap');
  const file = await ensureDefaultNetwork(dir, { binDirs: [fake.bin], subnet: '10.229.0.0/16' });
  t.equal(JSON.parse(readFileSync(file!, 'utf8')).cniVersion, '0.4.0', 'the newest version all three speak');

  t.same(parseCidr('10.209.3.4/16'), [((10 << 24) | (209 << 16)) >>> 0, 16]);
  t.equal(parseCidr('10.300.0.0/16'), undefined);
  t.ok(cidrsOverlap(parseCidr('10.209.0.0/16')!, parseCidr('10.209.7.0/24')!));
  t.notOk(cidrsOverlap(parseCidr('10.209.0.0/16')!, parseCidr('10.210.0.0/16')!));
  t.ok(cidrsOverlap(parseCidr('10.0.0.0/8')!, parseCidr('10.209.0.0/16')!));
});

t.test('the configuration a plugin gets: name, cniVersion, runtimeConfig, prevResult; no capabilities', async (t) => {
  const network: CniNetwork = {
    name: 'net1',
    cniVersion: '1.0.0',
    disableCheck: false,
    file: null,
    binDirs: ['/nowhere'],
    plugins: [
      { type: 'bridge', name: 'stale', cniVersion: '0.3.1', bridge: 'br0', ipam: { type: 'host-local' } },
      { type: 'portmap', capabilities: { portMappings: true, bandwidth: true }, snat: true },
      { type: 'other', capabilities: { portMappings: false } },
    ],
  };
  const before = structuredClone(network);
  const ports = { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }] };
  const prev: CniResult = { cniVersion: '1.0.0', ips: [{ address: '10.1.0.2/24', interface: 2 }] };

  t.same(
    pluginConfig(network, network.plugins[0], ports),
    { type: 'bridge', name: 'net1', cniVersion: '1.0.0', bridge: 'br0', ipam: { type: 'host-local' } },
    "the list's name and version replace the plugin's; no runtimeConfig without capabilities",
  );
  t.same(
    pluginConfig(network, network.plugins[1], ports, prev),
    { type: 'portmap', snat: true, name: 'net1', cniVersion: '1.0.0', runtimeConfig: ports, prevResult: prev },
    'only the capabilities given by the runtime, and no capabilities key',
  );
  t.same(
    pluginConfig(network, network.plugins[1], {}),
    { type: 'portmap', snat: true, name: 'net1', cniVersion: '1.0.0' },
    'no runtimeConfig when the runtime gives none',
  );
  t.same(
    pluginConfig(network, network.plugins[2], ports),
    { type: 'other', name: 'net1', cniVersion: '1.0.0' },
    'a capability declared false is not given',
  );
  t.same(network, before, 'the network is not changed');
});

t.test('a plugin is asked VERSION once per file, and again when the file is replaced', async (t) => {
  const fake = new FakePlugins(t);
  const asked = () => readdirSync(fake.log).filter((f) => f.endsWith('~VERSION.stdin')).length;
  fake.write('vers', { versions: ['0.4.0', '1.0.0'] });
  t.same(await pluginVersions('n', 'vers', [fake.bin], '1.0.0'), ['0.4.0', '1.0.0']);
  t.same(await pluginVersions('n', 'vers', [fake.bin], '1.0.0'), ['0.4.0', '1.0.0']);
  t.equal(asked(), 1, 'the second answer came from memory');
  fake.write('vers', { versions: ['1.0.0'] });
  t.same(await pluginVersions('n', 'vers', [fake.bin], '1.0.0'), ['1.0.0'], 'a new file is asked');
  t.equal(asked(), 2);
});

t.test('plugin errors: the error object, stdout that is not one, stderr', async (t) => {
  t.same(parseErrorObject('{"cniVersion":"1.0.0","code":7,"msg":"Invalid Configuration","details":"too small"}'), {
    cniVersion: '1.0.0',
    code: 7,
    msg: 'Invalid Configuration',
    details: 'too small',
  });
  t.same(parseErrorObject('{"code":11}'), { cniVersion: undefined, code: 11, msg: undefined, details: undefined });
  t.equal(parseErrorObject('panic: runtime error'), undefined);
  t.equal(parseErrorObject('{"ips":[]}'), undefined);
  t.equal(oneLine('a\n  b\tc', 100), 'a b c');
  t.equal(oneLine('x'.repeat(10) + 'end', 5), '...xxend', 'a long text keeps its end');

  const e = new CniError({
    network: 'n',
    plugin: 'bridge',
    command: 'ADD',
    msg: 'failed to allocate',
    cniCode: 999,
    details: 'range full',
    stderr: 'line1\nline2\n',
  });
  t.equal(e.message, 'network "n": plugin bridge failed ADD: failed to allocate: range full (CNI error 999) [stderr: line1 line2]');
  t.equal(e.cniCode, 999);
  t.equal(e.stderr, 'line1\nline2\n');
  t.equal(e.exitCode, 125);
});

t.test('iptables helpers: parsing a dump and the removal transaction', async (t) => {
  const dump = `# Generated by iptables-save
*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:CNI-abc - [0:0]
-A POSTROUTING -s 10.1.0.2/32 -m comment --comment "name: \\"n\\" id: \\"c\\"" -j CNI-abc
-A POSTROUTING -j OTHER
-A CNI-abc -d 10.1.0.0/24 -j ACCEPT
COMMIT
`;
  const nat = parseSave(dump).get('nat')!;
  t.same([...nat.chains], ['PREROUTING', 'POSTROUTING', 'CNI-abc']);
  t.equal(nat.rules.length, 3);
  t.equal(
    removalScript('nat', nat, new Set(['CNI-abc'])),
    [
      '*nat',
      '-D POSTROUTING -s 10.1.0.2/32 -m comment --comment "name: \\"n\\" id: \\"c\\"" -j CNI-abc',
      '-D CNI-abc -d 10.1.0.0/24 -j ACCEPT',
      '-X CNI-abc',
      'COMMIT',
      '',
    ].join('\n'),
    'exact deletes, then the chain, no flush',
  );
  // The name bridge 1.1.1 gave network "tspodx", container "ctr1", measured with iptables-save.
  t.equal(masqueradeChainName('tspodx', 'ctr1'), 'CNI-7aca36992b8c426106279459');
});

/** A network namespace made in a user namespace, or undefined where that is not allowed. */
async function userNetns(t: Test): Promise<{ path: string; kill: () => Promise<void> } | undefined> {
  if (spawnSync('unshare', ['--user', '--map-root-user', '--net', 'true']).status !== 0) return undefined;
  const child = spawn('unshare', ['--user', '--map-root-user', '--net', 'sleep', '1000'], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  cleanup(t, 'kill the plugin', kill);
  const own = statSync('/proc/self/ns/net').ino;
  await waitFor('the new namespace', () => {
    try {
      return statSync(`/proc/${child.pid}/ns/net`).ino !== own;
    } catch {
      return false;
    }
  });
  return { path: `/proc/${child.pid}/ns/net`, kill };
}

const R1: CniResult = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'br0' }, { name: 'veth1' }, { name: 'eth0', sandbox: '/proc/1/ns/net' }],
  ips: [{ address: '10.1.0.7/24', gateway: '10.1.0.1', interface: 2 }],
};
const R2: CniResult = { ...R1, dns: { nameservers: ['10.1.0.1'] } };

async function chain(t: Test, fake: FakePlugins, plugins: unknown[], extra: Record<string, unknown> = {}): Promise<CniNetwork> {
  const dir = confDir(t, { 'net.conflist': list('chain', plugins, extra) });
  return loadNetwork('chain', { confDir: dir, binDirs: [fake.bin] });
}

t.test('ADD, CHECK and DEL through a chain: order, environment, stdin', async (t) => {
  const ns = await userNetns(t);
  if (!ns) return t.plan(0, 'unshare --user --net is not allowed here');
  const fake = new FakePlugins(t);
  fake.write('first', { add: { out: R1 } });
  fake.write('second', { add: { out: R2 } });
  const network = await chain(t, fake, [{ type: 'first', capabilities: { portMappings: true }, mtu: 1400 }, { type: 'second' }]);
  process.env.TSPOD_CNI_UNIT_SECRET = 'leak';
  cleanup(t, 'unset TSPOD_CNI_UNIT_SECRET', () => void delete process.env.TSPOD_CNI_UNIT_SECRET);

  let pending: CniAttachment | undefined;
  const ports = [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }];
  const a = await add(network, {
    containerId: 'pod-1',
    netns: ns.path,
    portMappings: ports,
    args: { K8S_POD_NAME: 'web' },
    onPending: (p) => {
      pending = p;
      t.same(fake.calls(), [], 'onPending comes before any plugin runs');
    },
  });
  t.equal(pending?.result, null, 'the pending attachment has no result');
  t.same(a.result, R2, "the result is the last plugin's");
  t.equal(podIP(a), '10.1.0.7');

  const added = fake.calls();
  t.same(
    added.map((c) => `${c.type} ${c.command}`),
    ['first ADD', 'second ADD'],
  );
  t.same(added[0].stdin, { type: 'first', mtu: 1400, name: 'chain', cniVersion: '1.0.0', runtimeConfig: { portMappings: ports } });
  t.same(added[1].stdin, { type: 'second', name: 'chain', cniVersion: '1.0.0', prevResult: R1 }, "the second gets the first one's result");
  for (const c of added) {
    t.match(c.env, {
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: 'pod-1',
      CNI_NETNS: ns.path,
      CNI_IFNAME: 'eth0',
      CNI_PATH: fake.bin,
      CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web',
      PATH: PLUGIN_PATH,
    });
    // The shell adds PWD and the like; tap's child_process wrapper adds NODE_OPTIONS and
    // _TAPJS_* to every child of a test (a tspod has no such wrapper).
    const fromTap = (k: string) => k.startsWith('_TAPJS_') || (k === 'NODE_OPTIONS' && c.env[k].includes('@tapjs'));
    const keys = Object.keys(c.env).filter((k) => !['PWD', 'SHLVL', '_', 'OLDPWD'].includes(k) && !fromTap(k));
    t.same(
      keys.sort(),
      ['CNI_ARGS', 'CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_NETNS', 'CNI_PATH', 'PATH'],
      "nothing of tspod's environment reaches the plugin",
    );
    t.notOk('TSPOD_CNI_UNIT_SECRET' in c.env);
  }

  fake.clear();
  await check(a);
  t.same(
    fake.calls().map((c) => [c.type, c.command, c.stdin.prevResult]),
    [
      ['first', 'CHECK', R2],
      ['second', 'CHECK', R2],
    ],
    "CHECK in order, with the ADD's result",
  );

  const cached = toCache(a);
  t.same(JSON.parse(cached), JSON.parse(JSON.stringify(a)), 'the attachment is plain JSON');
  fake.clear();
  await del(fromCache(cached));
  const deleted = fake.calls();
  t.same(
    deleted.map((c) => [c.type, c.command, c.stdin.prevResult, c.env.CNI_NETNS]),
    [
      ['second', 'DEL', R2, ns.path],
      ['first', 'DEL', R2, ns.path],
    ],
    "DEL in reverse, with the ADD's result",
  );
  t.same(deleted[1].stdin.runtimeConfig, { portMappings: ports }, 'DEL gets the same runtimeConfig');

  // The namespace gone: DEL runs with an empty CNI_NETNS, and runs again.
  await ns.kill();
  await check(fromCache(cached)).then(
    () => t.fail('CHECK must fail without the namespace'),
    (err: Error) => t.match(err.message, /network "chain": CHECK of container pod-1: its network namespace .* is gone/),
  );
  fake.clear();
  await del(fromCache(cached));
  await del(fromCache(cached));
  t.same(
    fake.calls().map((c) => `${c.type} ${c.command} netns=${c.env.CNI_NETNS}`),
    ['second DEL netns=', 'first DEL netns=', 'second DEL netns=', 'first DEL netns='],
    'twice, without the namespace',
  );

  t.equal(pending && pending.containerId, 'pod-1');
  fake.clear();
  await del(pending!);
  t.notOk('prevResult' in fake.calls()[0].stdin, 'DEL of a pending attachment has no prevResult');
});

t.test('a failed ADD is undone with DEL for the whole list, and names the plugin', async (t) => {
  const ns = await userNetns(t);
  if (!ns) return t.plan(0, 'unshare --user --net is not allowed here');
  const fake = new FakePlugins(t);
  fake.write('first', { add: { out: R1 } });
  fake.write('second', {
    add: { out: { cniVersion: '1.0.0', code: 7, msg: 'Invalid Configuration', details: 'no room' }, exit: 1, stderr: 'plugin log' },
  });
  fake.write('third');
  const network = await chain(t, fake, [{ type: 'first' }, { type: 'second' }, { type: 'third' }]);

  const err = (await rejectsWith(
    t,
    add(network, { containerId: 'c2', netns: ns.path }),
    /^network "chain": plugin second failed ADD: Invalid Configuration: no room \(CNI error 7\) \[stderr: plugin log\]$/,
    CniError,
  )) as CniError;
  t.equal(err.plugin, 'second');
  t.equal(err.cniCode, 7);
  t.equal(err.details, 'no room');
  t.same(
    fake.calls().map((c) => `${c.type} ${c.command}`),
    ['first ADD', 'second ADD', 'third DEL', 'second DEL', 'first DEL'],
    'DEL for every plugin, the one never run too, in reverse',
  );
  t.same(fake.calls()[4].stdin.prevResult, R1, 'with what was done so far');

  // A failed rollback is reported too, on the same line.
  fake.clear();
  fake.write('first', { add: { out: R1 }, del: { out: { code: 11, msg: 'busy' }, exit: 1 } });
  await rejectsWith(
    t,
    add(network, { containerId: 'c2', netns: ns.path }),
    new RegExp(
      'plugin second failed ADD: Invalid Configuration.*; ' +
        String.raw`undoing it failed too: network "chain": plugin first failed DEL: busy \(CNI error 11\)`,
    ),
  );

  // Output that is not a CNI error object, and a success without a result.
  fake.write('first', { add: { out: 'panic: oops', exit: 2 } });
  await rejectsWith(
    t,
    add(network, { containerId: 'c2', netns: ns.path }),
    /plugin first failed ADD: exit status 2, and its output is not a CNI error object: panic: oops/,
  );
  fake.write('first', { add: { out: '' } });
  await rejectsWith(t, add(network, { containerId: 'c2', netns: ns.path }), /plugin first failed ADD: succeeded but printed no result/);
  fake.write('first', { add: { out: '{not json' } });
  await rejectsWith(
    t,
    add(network, { containerId: 'c2', netns: ns.path }),
    /plugin first failed ADD: succeeded but printed something that is not JSON/,
  );

  // A plugin that vanished after the network was loaded.
  fake.write('first', { add: { out: R1 } });
  unlinkSync(join(fake.bin, 'second'));
  fake.clear();
  await rejectsWith(
    t,
    add(network, { containerId: 'c2', netns: ns.path }),
    /^network "chain": plugin second failed ADD: not found in .*bin$/,
  );
  t.same(
    fake.calls().map((c) => `${c.type} ${c.command}`),
    ['first ADD', 'third DEL', 'first DEL'],
    'the missing one is passed over in the rollback',
  );
});

t.test('a plugin that does not answer is killed with what it started', async (t) => {
  const ns = await userNetns(t);
  if (!ns) return t.plan(0, 'unshare --user --net is not allowed here');
  const fake = new FakePlugins(t);
  fake.write('slow', { add: { hang: true } });
  const network = await chain(t, fake, [{ type: 'slow' }]);
  // The plugin never answers: were it waited for, this would hang until tap's timeout.
  await rejectsWith(
    t,
    add(network, { containerId: 'c3', netns: ns.path, timeoutMs: 500 }),
    /^network "chain": plugin slow failed ADD: no answer within 0\.5 s: killed$/,
  );
  const grandchild = Number(readFileSync(join(fake.log, 'grandchild'), 'utf8'));
  await waitFor(
    "the plugin's own child to be gone",
    () => !existsSync(`/proc/${grandchild}`) || readFileSync(`/proc/${grandchild}/stat`, 'utf8').split(') ')[1][0] === 'Z',
  );
  t.pass('its process group was killed');
});

t.test("CHECK: disableCheck, old versions, and portmap 1.1's IPv6 complaint", async (t) => {
  const ns = await userNetns(t);
  if (!ns) return t.plan(0, 'unshare --user --net is not allowed here');
  const fake = new FakePlugins(t);
  fake.write('first', { add: { out: R1 } });
  const ipv6Bug = {
    out: { code: 999, msg: 'could not check ipv6 dnat: chain CNI-DN-7aca36992b8c426106279 not found in iptables table nat' },
    exit: 1,
  };
  fake.write('portmap', { check: ipv6Bug });

  const off = await chain(t, fake, [{ type: 'first' }], { disableCheck: true });
  const a = await add(off, { containerId: 'c4', netns: ns.path });
  fake.clear();
  await check(a);
  t.same(fake.calls(), [], 'disableCheck: no plugin is asked');

  const old = { ...off, cniVersion: '0.3.1', disableCheck: false };
  await rejectsWith(t, check({ ...a, network: old }), /CHECK needs cniVersion 0\.4\.0 or newer, the network has 0\.3\.1/);

  const pm = await chain(t, fake, [{ type: 'first' }, { type: 'portmap', capabilities: { portMappings: true } }]);
  const b = await add(pm, { containerId: 'c5', netns: ns.path, portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] });
  await check(b);
  t.pass('the IPv6 complaint of an IPv4-only attachment is passed over');
  await rejectsWith(
    t,
    check({ ...b, result: { ...R1, ips: [...R1.ips!, { address: 'fd00::7/64', interface: 2 }] } }),
    /plugin portmap failed CHECK: could not check ipv6 dnat/,
    CniError,
  );
  fake.write('portmap', { check: { out: { code: 999, msg: 'could not check ipv4 dnat: rule missing' }, exit: 1 } });
  await rejectsWith(t, check(b), /plugin portmap failed CHECK: could not check ipv4 dnat: rule missing \(CNI error 999\)/);
});

t.test('parameters are checked before any plugin runs', async (t) => {
  const fake = new FakePlugins(t);
  fake.write('first', { add: { out: R1 } });
  const network = await chain(t, fake, [{ type: 'first' }]);
  const ns = await userNetns(t);
  const netns = ns?.path ?? '/proc/self/ns/net';
  await rejectsWith(t, add(network, { containerId: '-bad', netns }), /network "chain": container ID "-bad" is not valid/);
  await rejectsWith(
    t,
    add(network, { containerId: 'c', netns, ifName: 'much-too-long-name' }),
    /interface name "much-too-long-name" is not valid/,
  );
  await rejectsWith(
    t,
    add(network, { containerId: 'c', netns, portMappings: [{ hostPort: 0, containerPort: 80, protocol: 'tcp' }] }),
    /portMappings\[0\]: hostPort must be a port number/,
  );
  await rejectsWith(
    t,
    add(network, { containerId: 'c', netns, portMappings: [{ hostPort: 80, containerPort: 80, protocol: 'sctp' as 'tcp' }] }),
    /portMappings\[0\]: protocol must be tcp or udp/,
  );
  await rejectsWith(
    t,
    add(network, {
      containerId: 'c',
      netns,
      portMappings: [
        { hostPort: 80, containerPort: 80, protocol: 'tcp' },
        { hostPort: 80, containerPort: 81, protocol: 'tcp' },
      ],
    }),
    /portMappings\[1\]: host port \*:80\/tcp is mapped twice/,
  );
  await rejectsWith(t, add(network, { containerId: 'c', netns, args: { 'A;B': 'x' } }), /CNI argument A;B=x is not valid/);
  await rejectsWith(
    t,
    add(network, { containerId: 'c', netns: '/proc/self/ns/net' }),
    /netns \/proc\/self\/ns\/net: is the host's network namespace/,
  );
  await rejectsWith(t, add(network, { containerId: 'c', netns: '/etc/hostname' }), /netns \/etc\/hostname: not a namespace file/);
  await rejectsWith(t, add(network, { containerId: 'c', netns: '/nonexistent/ns' }), /netns \/nonexistent\/ns: ENOENT/);
  t.same(fake.calls(), [], 'no plugin ran');
});

t.test('the cache: what is not an attachment is refused', async (t) => {
  t.throws(() => fromCache('{', '/run/tspod/pods/x/network.json'), /^\/run\/tspod\/pods\/x\/network\.json: not JSON/);
  t.throws(() => fromCache('{"kind":"other"}', 'f'), /f: not a tspod CNI attachment \(kind must be tspod\.cni-attachment\/v1\)/);
  t.throws(() => fromCache(JSON.stringify({ kind: 'tspod.cni-attachment/v1', network: { name: 'n' } }), 'f'), /\(network\)/);
  t.equal(podIP({ result: null } as CniAttachment), undefined);
  t.equal(
    podIP({ ifName: 'eth0', result: { ips: [{ address: '10.2.0.3/16' }] } } as unknown as CniAttachment),
    '10.2.0.3',
    'a result without interfaces: its first address',
  );
  t.equal(
    podIP({ ifName: 'net1', result: R1 } as unknown as CniAttachment),
    '10.1.0.7',
    'an interface the result does not list: the first address',
  );
});
