// Fuzzing as root what only root reaches: layers unpacked with owners, devices and xattrs (never a
// write outside the layer's directory), and the monitor's control socket (never a 500, and it
// answers on). Deterministic seeds; TSPOD_FUZZ_ROUNDS for more rounds.
import t from 'tap';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { unpackLayer } from '../../src/image/unpack.js';
import { loadBinding } from '../../src/native/binding.js';
import { FUZZ_SCALE, holds, mutateBytes, mutateJson, rng } from '../helpers/fuzz.js';
import { writeTar } from '../helpers/image-builder.js';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { tempDir } from '../helpers/cleanup.js';
import { testState } from '../helpers/state.js';

if (!isRoot) t.plan(0, NOT_ROOT);

/** Every path under `dir` with its size and mode: what "untouched" is compared with. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel))) {
      const p = rel ? `${rel}/${name}` : name;
      const st = statSync(join(dir, p), { throwIfNoEntry: false });
      out.push(`${p} ${st?.size} ${st?.mode}`);
      if (st?.isDirectory()) walk(p);
    }
  };
  walk('');
  return out.sort();
}

t.test('mutated layers are unpacked or refused with a TspodError, and nothing outside the layer changes', async (t) => {
  const base = tempDir(t, 'fuzz-unpack');
  const outside = join(base, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'victim'), 'untouched\n');
  const before = snapshot(base);
  const layer = writeTar([
    { path: 'd/', type: 'dir', mode: 0o750, uid: 1000 },
    { path: 'd/f', body: 'hello', mode: 0o4755 },
    { path: 'd/.wh.gone', body: '' },
    { path: '.wh..wh..opq', body: '' },
    { path: 'l', type: 'symlink', linkname: '../outside' },
    { path: 'h', type: 'hardlink', linkname: 'd/f' },
    { path: 'dev', type: 'char', devmajor: 1, devminor: 3 },
    { path: 'fifo', type: 'fifo' },
    { path: 'x', body: 'x', xattrs: { 'user.a': 'b', 'trusted.overlay.opaque': 'y' } },
  ]);
  const r = rng(11);
  const binding = loadBinding();
  let n = 0;
  const inputs = function* () {
    for (let i = 0; i < 150 * FUZZ_SCALE; i++) yield mutateBytes(r, layer);
  };
  await holds(
    t,
    'layers',
    inputs(),
    async (bytes) => {
      const dest = mkdtempSync(join(base, 'dest-'));
      try {
        async function* once() {
          yield bytes;
        }
        await unpackLayer(once(), join(dest), binding);
      } finally {
        rmSync(dest, { recursive: true, force: true });
        n++;
      }
    },
    (bytes) => `a layer of ${bytes.length} bytes`,
  );
  t.same(snapshot(base), before, `after ${n} layers, the directory around them is as it was`);
  t.equal(readFileSync(join(outside, 'victim'), 'utf8'), 'untouched\n');
});

/** One raw request on the socket; its status and body. */
function ask(socket: string, method: string, path: string, body?: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: socket,
        method,
        path,
        agent: false,
        headers: body ? { 'content-type': 'application/json', 'content-length': body.length } : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('error', () => resolve({ status: res.statusCode!, body: 'null' }));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      },
    );
    // A body the monitor refuses part way (too large) may end in a reset on our side: that is
    // the answer then, as long as the monitor answers the next request.
    req.on('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EPIPE' || err.code === 'ECONNRESET' ? resolve({ status: 0, body: 'null' }) : reject(err),
    );
    req.end(body);
  });
}

t.test('mutated requests on the control socket: never a 500, one-line errors, and the monitor answers on', async (t) => {
  const s = testState(t);
  t.equal((await s.cli(['pod', 'create', 'seed'])).code, 0);
  const socket = s.store.paths.socket;
  const r = rng(12);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  const names = ['seed', 'nope', 'Bad_Name', '..', '%2e%2e', 'a%2Fb', '%00', 'x'.repeat(300), '%E0%A4%A', ''];
  const paths = [
    () => '/v1/version',
    () => '/v1/pods',
    () => `/v1/pods/${pick(names)}`,
    () => `/v1/pods/${pick(names)}/stop`,
    () => `/v1/pods/${pick(names)}/containers`,
    () => `/v1/pods/${pick(names)}/containers/${pick(names)}/restart`,
    () => `/v1/pods/${pick(names)}/containers/${pick(names)}?force=${pick(['true', 'x', ''])}`,
    () => '/v1/manifests',
    () => `/${pick(['v2', '', 'v1/', '../v1'])}/pods`,
  ];
  const spec = { name: 'fz', containers: [{ name: 'a', command: ['/bin/true'], args: [], env: [] }] };
  const bodies = [
    () => undefined,
    () => Buffer.from(JSON.stringify(mutateJson(r, { spec }))),
    () => Buffer.from(JSON.stringify(mutateJson(r, { container: spec.containers[0] }))),
    () => Buffer.from(JSON.stringify(mutateJson(r, { text: 'apiVersion: v1\nkind: Pod\n', file: 'x.yaml' }))),
    () => mutateBytes(r, Buffer.from(JSON.stringify({ grace: 1 }))),
    () => Buffer.alloc((1 << 20) + 10, 0x20),
  ];
  const requests = function* () {
    for (let i = 0; i < 150 * FUZZ_SCALE; i++) yield [pick(['GET', 'POST', 'DELETE', 'PUT']), pick(paths)(), pick(bodies)()] as const;
  };
  const served: string[] = [];
  await holds(
    t,
    'requests',
    requests(),
    async ([method, path, body]) => {
      const answer = await ask(socket, method, path, body);
      if (answer.status >= 500) served.push(`${answer.status} for ${method} ${path}: ${answer.body.slice(0, 200)}`);
      const parsed = JSON.parse(answer.body) as { error?: string };
      if (parsed && typeof parsed.error === 'string' && parsed.error.includes('\n'))
        served.push(`a multi-line error for ${method} ${path}`);
    },
    ([method, path, body]) => `${method} ${path} with ${body?.length ?? 0} bytes`,
  );
  t.same(served.slice(0, 5), [], 'no answer was a 500 or a multi-line error');

  // Bytes that are barely HTTP, on a raw connection: whatever comes back is JSON, never a 5xx.
  const template = Buffer.from('POST /v1/pods HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}');
  const raw = function* () {
    for (let i = 0; i < 100 * FUZZ_SCALE; i++) yield mutateBytes(r, template);
  };
  const replies: string[] = [];
  await holds(
    t,
    'raw bytes',
    raw(),
    (bytes) =>
      new Promise<void>((resolve) => {
        const c = connect(socket, () => c.end(bytes));
        let got = '';
        c.setEncoding('latin1');
        c.on('data', (d: string) => (got += d));
        c.on('error', () => {});
        c.on('close', () => {
          const status = /^HTTP\/1\.1 (\d{3})/.exec(got)?.[1];
          const body = got.slice(got.indexOf('\r\n\r\n') + 4);
          if (status?.startsWith('5')) replies.push(`${status} for ${JSON.stringify(bytes.toString('latin1').slice(0, 80))}`);
          else if (status && body && !/^[[{"n]/.test(body))
            replies.push(`not JSON (${JSON.stringify(body.slice(0, 40))}) for ${JSON.stringify(bytes.toString('latin1').slice(0, 80))}`);
          resolve();
        });
      }),
    (bytes) => `${bytes.length} raw bytes`,
  );
  t.same(replies.slice(0, 5), [], 'no 5xx, and every body JSON');
  t.equal((await ask(socket, 'GET', '/v1/version')).status, 200, 'the monitor answers after them all');
  const log = readFileSync(s.store.paths.monitorLog, 'utf8');
  t.notMatch(log, /^monitor: (GET|POST|DELETE|PUT) /m, 'and logged no internal error');
});
