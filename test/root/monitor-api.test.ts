// The control socket and the state directory: root only; bad requests get clear errors and
// change nothing; concurrent commands keep the state consistent; names are taken once.
import t from 'tap';
import { createServer, request } from 'node:http';
import { spawnSync } from 'node:child_process';
import { readlinkSync, statSync, writeFileSync } from 'node:fs';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { cleanup, tempDir } from '../helpers/cleanup.js';
import { cliPath, runCli } from '../helpers/cli.js';
import { alive } from '../helpers/proc.js';
import { tearDownState, testState, type TestState } from '../helpers/state.js';

if (!isRoot) t.plan(0, NOT_ROOT);

/** A raw request on the monitor's socket, as curl --unix-socket would send it. */
function raw(s: TestState, method: string, path: string, body?: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: s.store.paths.socket, method, path, headers: body ? { 'content-type': 'application/json' } : {} },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

t.test('the socket and the state directory are root-only', async (t) => {
  const s = testState(t);
  t.equal((await s.cli(['pod', 'create', 'perm'])).code, 0);
  t.equal(statSync(s.root).mode & 0o777, 0o700, 'state root 0700');
  t.equal(statSync(s.store.paths.pod('perm')).mode & 0o777, 0o700, 'pod directory 0700');
  t.equal(statSync(s.store.paths.podFile('perm')).mode & 0o777, 0o600, 'pod.json 0600');
  t.equal(statSync(s.store.paths.socket).mode & 0o777, 0o600, 'socket 0600');
  // As nobody: connecting to the socket and reading the state both fail.
  const probe = `
    const fs = require('fs');
    let read = 'readable'; try { fs.readdirSync(${JSON.stringify(s.root)}); } catch (e) { read = e.code; }
    require('net').connect(${JSON.stringify(s.store.paths.socket)})
      .on('connect', () => { console.log(read, 'connected'); process.exit(0); })
      .on('error', (e) => { console.log(read, e.code); process.exit(0); });`;
  const r = spawnSync(process.execPath, ['-e', probe], { uid: 65534, gid: 65534, encoding: 'utf8' });
  t.equal(r.stdout.trim(), 'EACCES EACCES', 'a non-root user can neither list the state nor connect');
  const cli = await s.cli(['ps'], { uid: 65534, gid: 65534 });
  t.not(cli.code, 0, 'tspod ps as nobody fails');
});

t.test('bad requests to the socket: clear errors, nothing changed', async (t) => {
  const s = testState(t);
  await s.cli(['pod', 'create', 'keep']);
  const before = JSON.stringify(s.store.list());
  const cases: [string, string, string | undefined, number, RegExp][] = [
    ['POST', '/v1/pods', '{not json', 400, /^request body: invalid JSON/],
    [
      'POST',
      '/v1/pods',
      '{"spec": {"name": "x", "containers": [], "initContainers": [{"name": "i", "command": ["x"], "restartPolicy": "Never"}]}}',
      400,
      /^spec\.initContainers\[0\]\.restartPolicy: must be Always \(a sidecar\), not "Never"$/,
    ],
    [
      'POST',
      '/v1/pods',
      '{"spec": {"name": "x", "containers": []}}',
      400,
      /^spec\.containers: must hold at least one container \(or set persistent: true\)$/,
    ],
    [
      'POST',
      '/v1/pods',
      '{"spec": {"name": "x", "containers": [], "pause": "/nonexistent"}, "persistent": true}',
      400,
      /^spec\.pause: \/nonexistent does not exist$/,
    ],
    ['POST', '/v1/pods/a%2F..%2F..%2Fx/stop', undefined, 400, /^pod: "a\/..\/..\/x" is not a DNS-1123 label/],
    ['DELETE', '/v1/pods/%E0%A4%A', undefined, 400, /^path: "%E0%A4%A" is not a valid URL segment$/],
    ['POST', '/v1/pods', '{"spec": {"name": "Bad_Name", "containers": []}}', 400, /^spec\.name: "Bad_Name" is not a DNS-1123 label/],
    ['POST', '/v1/pods', '{"spec": {"name": "x", "containers": [{"name": "a"}]}}', 400, /^spec\.containers\[0\]\.command: is required/],
    ['POST', '/v1/pods', '{"spec": {"name": "keep", "containers": []}, "persistent": true}', 409, /^pod "keep" already exists$/],
    ['POST', '/v1/pods/keep/containers', '{"container": {"name": "a", "command": ["/nonexistent"]}}', 422, /command not found/],
    ['GET', '/v1/pods/nope', undefined, 404, /^pod "nope" does not exist$/],
    ['POST', '/v1/pods/keep/containers/nope/restart', undefined, 404, /^pod "keep" has no container "nope"$/],
    ['GET', '/v1/nothing-here', undefined, 404, /^no route GET \/v1\/nothing-here$/],
    ['PUT', '/v1/pods', undefined, 405, /^no route PUT/],
    ['POST', '/v1/manifests', '{"text": "kind: Pod"}', 400, /^file: is required$/],
    ['POST', '/v1/manifests', '{"text": "a: b: c", "file": "p.yaml"}', 400, /^p\.yaml: invalid YAML: Nested mappings/],
    [
      'POST',
      '/v1/manifests',
      '{"text": "apiVersion: v1\\nkind: Pod\\nmetadata: {name: x}\\nspec: {containers: [{name: a}]}", "file": "p.yaml"}',
      400,
      /^p\.yaml: spec\.containers\[0\]\.command: is required/,
    ],
    [
      'POST',
      '/v1/pods',
      '{"spec": {"name": "x", "containers": []}, "manifest": {"text": "", "file": "p.yaml"}}',
      400,
      /^spec: give either spec or manifest$/,
    ],
    ['POST', '/v1/pods', '{"manifest": {"text": "kind: Pod"}}', 400, /^manifest\.file: is required$/],
    ['POST', '/v1/pods', '{"manifest": {"text": "kind: Pod", "file": "p.yaml", "workingDir": "rel"}}', 400, /^manifest\.workingDir: /],
    [
      'POST',
      '/v1/pods',
      '{"manifest": {"text": "apiVersion: v1\\nkind: Pod\\nmetadata: {name: x}\\nspec: {containers: [{name: a}]}", "file": "p.yaml"}}',
      400,
      /^p\.yaml: spec\.containers\[0\]\.command: is required/,
    ],
  ];
  for (const [method, path, body, status, message] of cases) {
    const r = await raw(s, method, path, body);
    t.equal(r.status, status, `${method} ${path} ${body ?? ''}: status`);
    t.match(r.body.error, message, `${method} ${path}: message`);
  }
  t.equal(JSON.stringify(s.store.list()), before, 'the state is as it was');
  t.same(s.store.names(), ['keep'], 'no half-created pod directory');
});

t.test('POST /v1/manifests checks a manifest and answers with its pod, creating nothing', async (t) => {
  const s = testState(t);
  await s.cli(['pod', 'create', 'keep']);
  const text = ['apiVersion: v1', 'kind: Pod', 'metadata:', '  name: web', 'spec:', '  restartPolicy: Never', '  containers:']
    .concat(['    - name: a', '      command: [sleep, "1"]', ''])
    .join('\n');
  const r = await raw(s, 'POST', '/v1/manifests', JSON.stringify({ text, file: 'web.yaml' }));
  t.equal(r.status, 200);
  t.equal(r.body.spec.name, 'web');
  t.equal(r.body.spec.restartPolicy, 'Never');
  t.same(r.body.spec.containers[0].command, ['sleep', '1']);
  t.same(s.store.names(), ['keep'], 'no pod was created');
});

t.test('run -d -f against a monitor older than the manifest form of POST /v1/pods: it sends a spec', async (t) => {
  // A stand-in for such a monitor on a state directory of the test's own: it refuses the field
  // `manifest` as an old one does, and answers the two requests that follow.
  const root = tempDir(t, 'old-monitor');
  const seen: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const json = JSON.parse(body);
      seen.push(`${req.method} ${req.url} ${Object.keys(json).sort().join(',')}`);
      const answer = (status: number, value: unknown) => {
        const text = JSON.stringify(value);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
      };
      if (req.url === '/v1/pods' && json.manifest)
        return answer(400, {
          error: 'manifest: field is not supported by tspod (supported here: spec, persistent)',
          exitCode: 125,
          field: 'manifest',
        });
      if (req.url === '/v1/manifests')
        return answer(200, { spec: { name: 'old', containers: [{ name: 'c', command: ['true'], args: [], env: [] }] } });
      answer(201, { name: json.spec.name });
    });
  });
  await new Promise<void>((r) => server.listen(`${root}/monitor.sock`, r));
  cleanup(t, 'close the server', () => new Promise<void>((r) => server.close(() => r())));
  const manifest = `${root}/pod.yaml`;
  writeFileSync(manifest, 'apiVersion: v1\nkind: Pod\nmetadata: {name: old}\nspec: {containers: [{name: c, command: ["true"]}]}\n');
  const r = await runCli(t, ['--root', root, 'run', '-d', '-f', manifest]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'old\n');
  t.same(seen, ['POST /v1/pods manifest', 'POST /v1/manifests file,text', 'POST /v1/pods spec']);
});

t.test('POST /v1/pods with a manifest: the monitor reads it and creates its pod in one request', async (t) => {
  const s = testState(t);
  await s.cli(['pod', 'create', 'keep']);
  const text = ['apiVersion: v1', 'kind: Pod', 'metadata:', '  name: web', 'spec:', '  containers:']
    .concat([
      '    - name: here',
      '      command: [sleep, "1000"]',
      '    - name: there',
      '      command: [sleep, "1000"]',
      '      workingDir: /usr',
      '',
    ])
    .join('\n');
  const r = await raw(s, 'POST', '/v1/pods', JSON.stringify({ manifest: { text, file: 'web.yaml', workingDir: '/tmp' } }));
  t.equal(r.status, 201, JSON.stringify(r.body));
  t.equal(r.body.name, 'web');
  const pids = (s.store.read('web')?.containers ?? []).map((c) => c.process!.pid);
  t.equal(pids.length, 2);
  t.equal(readlinkSync(`/proc/${pids[0]}/cwd`), '/tmp', "a container without workingDir runs in the client's directory");
  t.equal(readlinkSync(`/proc/${pids[1]}/cwd`), '/usr', 'its own workingDir wins');
  t.equal((await s.cli(['rm', '-f', 'web'])).code, 0);
});

t.test('bad input on the command line: unknown pod or container, a name in use', async (t) => {
  const s = testState(t);
  await s.cli(['pod', 'create', 'p']);
  const cases: [string[], RegExp][] = [
    [['restart', 'nope', 'x'], /^tspod: pod "nope" does not exist$/m],
    [['restart', 'p', 'x'], /^tspod: pod "p" has no container "x"$/m],
    [['logs', 'p', 'x'], /^tspod: pod "p" has no container "x"/m],
    [['inspect', 'nope'], /^tspod: pod "nope" does not exist$/m],
    [['pod', 'create', 'p'], /^tspod: pod "p" already exists$/m],
    [['run', '-d', '--name', 'p', '--', 'true'], /^tspod: pod "p" already exists$/m],
    [['run', '-d', '--pod', 'p', '--', 'true'], /^tspod: --name: names the container that joins the pod/m],
    [['run', '-d', '--pod', 'nope', '--name', 'a', '--', 'true'], /^tspod: pod "nope" does not exist$/m],
    [['run', '--pod', 'p', '--name', 'a', '--', 'true'], /^tspod: --pod: adds a container to a running pod: use it with -d$/m],
    [
      ['run', '-d', '--pod', 'p', '--name', 'a', '-v', '/tmp:/x', '--', 'true'],
      /^tspod: -v: "\/tmp:\/x": a pod's volumes are set when it is created/m,
    ],
    [
      ['run', '-d', '--pod', 'p', '--name', 'a', '-v', 'nov:/x', '--', 'true'],
      /^tspod: container\.volumeMounts\[0\]\.name: pod p has no volume "nov"$/m,
    ],
  ];
  const before = JSON.stringify(s.store.list());
  for (const [args, message] of cases) {
    const r = await s.cli(args);
    t.not(r.code, 0, `${args.join(' ')}: non-zero status`);
    t.match(r.stderr, message, `${args.join(' ')}: message`);
    t.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: one line`);
  }
  t.equal(JSON.stringify(s.store.list()), before, 'nothing changed');
});

t.test('20 run -d at once: 20 pods, consistent; one name twice at once: exactly one wins', async (t) => {
  const s = testState(t);
  const runs = await Promise.all(
    Array.from({ length: 20 }, (_, i) => s.cli(['run', '-d', '--name', `many-${i}`, '--restart', 'Always', '--', 'sleep', '1000'])),
  );
  t.same(
    runs.map((r) => r.code),
    Array(20).fill(0),
    runs.map((r) => r.stderr).join(''),
  );
  const records = s.store.list();
  t.equal(records.length, 20);
  t.ok(
    records.every((r) => r.state === 'running' && r.containers[0].state === 'running'),
    'all running',
  );
  t.equal(new Set(records.map((r) => r.infra!.process.pid)).size, 20, '20 distinct infra processes');
  t.equal(new Set(records.map((r) => r.supervisor.pid)).size, 1, 'one monitor for all of them');

  const twice = await Promise.all([0, 1].map(() => s.cli(['run', '-d', '--name', 'same', '--', 'sleep', '1000'])));
  t.same(twice.map((r) => r.code).sort(), [0, 125], 'one succeeds, one fails');
  t.match(twice.find((r) => r.code !== 0)!.stderr, /^tspod: pod "same" already exists$/m);
  t.equal(s.store.list().filter((r) => r.name === 'same').length, 1);
});

t.test("a container name cannot reach another pod through the API's paths", async (t) => {
  const s = testState(t);
  await s.cli(['pod', 'create', 'q']);
  await s.cli(['pod', 'create', 'a']);
  const infraQ = s.store.read('q')!.infra!.process;
  for (const bad of ['../../q', 'c?force=true', 'x/../../q']) {
    const r = await s.cli(['rm', '-f', 'a', bad]);
    t.equal(r.code, 125, `rm a ${bad}: refused`);
    t.match(r.stderr, /^tspod: container: ".*" is not a DNS-1123 label/);
  }
  t.equal(s.store.read('q')?.state, 'running', 'pod q is untouched');
  t.ok(alive(infraQ), 'and so is its infra');
});

t.test('a state directory tspod creates is root-only, whatever the umask', async (t) => {
  const s = testState(t);
  const root = `${s.root}/fresh`;
  // Its monitor is in that root: torn down before the test's own state.
  cleanup(t, `tear down state ${root}`, () => tearDownState(root));
  const r = spawnSync('/bin/sh', ['-c', `umask 000; exec env -u NODE_OPTIONS ${process.execPath} ${cliPath} pod create um`], {
    env: { ...s.env, TSPOD_ROOT: root },
    encoding: 'utf8',
  });
  t.equal(r.status, 0, r.stderr);
  for (const path of [root, `${root}/pods`, `${root}/pods/um`]) t.equal(statSync(path).mode & 0o777, 0o700, `${path} is 0700`);
  for (const path of [`${root}/monitor.sock`, `${root}/pods/um/pod.json`, `${root}/monitor.log`])
    t.equal(statSync(path).mode & 0o777, 0o600, `${path} is 0600`);
});
