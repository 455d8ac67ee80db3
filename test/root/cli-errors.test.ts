// Bad input: one clear line naming the culprit, a non-zero status, and nothing left behind.
// Each case runs tspod with a private copy of pause (and of sleep, for a container that does
// start), so "nothing left" means: no process runs either copy afterwards.
import t, { type Test } from 'tap';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundledPausePath } from '../../src/native/binding.js';
import { NOT_ROOT, isRoot, uniqueCopy } from '../helpers/root.js';
import { tempDir } from '../helpers/cleanup.js';
import { mountsUnder, processesRunning } from '../helpers/proc.js';
import { testState } from '../helpers/state.js';

if (!isRoot) t.plan(0, NOT_ROOT);

/** Runs tspod with private pause and sleep copies; checks the error and that nothing is left. */
async function expectError(t: Test, args: (env: { dir: string; sleep: string }) => string[], code: number, message: RegExp) {
  const dir = tempDir(t, 'err');
  const pause = uniqueCopy(dir, bundledPausePath, 'pause');
  const sleep = uniqueCopy(dir, '/bin/sleep', 'sleep');
  const s = testState(t);
  const r = await s.cli(['run', '--pause', pause, ...args({ dir, sleep })]);
  t.equal(r.code, code, 'exit status');
  t.match(r.stderr, message);
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  t.equal(r.stdout, '', 'nothing on stdout');
  t.same(processesRunning(pause), [], 'no infra process is left');
  t.same(processesRunning(sleep), [], 'no container process is left');
  t.same(mountsUnder(s.root, dir), [], 'no mount is left');
  t.same(s.store.names(), [], 'and nothing in the state directory');
}

function manifest(dir: string, spec: unknown, name = 'pod.yaml'): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bad' }, spec }));
  return file;
}

t.test('not root: says root is needed, and why', async (t) => {
  const r = await testState(t).cli(['run', '--', 'true'], { uid: 65534, gid: 65534 });
  t.equal(r.code, 125);
  t.match(r.stderr, /^tspod: tspod run needs root: it creates network, IPC, UTS and PID namespaces .*; run it with sudo\n$/);
});

t.test('a command that does not exist names the container and the path', async (t) => {
  await expectError(
    t,
    () => ['--name', 'nf', '--', '/nonexistent/cmd'],
    127,
    /^tspod: container nf: command not found: \/nonexistent\/cmd does not exist$/m,
  );
  await expectError(
    t,
    () => ['--name', 'nf2', '--', 'no-such-cmd-xyz'],
    127,
    /^tspod: container nf2: command not found: "no-such-cmd-xyz" is not in PATH=/m,
  );
});

t.test('a command that is not executable', async (t) => {
  await expectError(
    t,
    ({ dir }) => {
      writeFileSync(join(dir, 'script'), '#!/bin/sh\n');
      chmodSync(join(dir, 'script'), 0o644);
      return ['--name', 'nx', '--', join(dir, 'script')];
    },
    126,
    /container nx: cannot run .*script: it is not executable/,
  );
});

t.test('a failure in the child after the first container started: everything is undone', async (t) => {
  await expectError(
    t,
    ({ dir, sleep }) => [
      '-f',
      manifest(dir, {
        containers: [
          { name: 'first', command: [sleep, '1000'] },
          { name: 'second', command: ['true'], workingDir: '/nonexistent/dir' },
        ],
      }),
    ],
    125,
    /^tspod: container second: ENOENT: no such file or directory, chdir '\/nonexistent\/dir'$/m,
  );
});

t.test('manifest errors name the field path', async (t) => {
  await expectError(
    t,
    ({ dir }) => [
      '-f',
      manifest(dir, {
        containers: [
          { name: 'a', command: ['true'] },
          { name: 'b', command: ['true'], livenessProbe: {} },
        ],
      }),
    ],
    125,
    /pod\.yaml: spec\.containers\[1\]\.livenessProbe: needs a handler/,
  );
  await expectError(
    t,
    ({ dir }) => [
      '-f',
      manifest(dir, {
        containers: [
          { name: 'a', command: ['true'] },
          { name: 'a', command: ['true'] },
        ],
      }),
    ],
    125,
    /spec\.containers\[1\]\.name: duplicate container name "a"/,
  );
  await expectError(
    t,
    ({ dir }) => ['-f', manifest(dir, { containers: [{ name: 'Not_DNS', command: ['true'] }] })],
    125,
    /spec\.containers\[0\]\.name: "Not_DNS" is not a DNS-1123 label/,
  );
  await expectError(t, ({ dir }) => ['-f', join(dir, 'missing.yaml')], 125, /missing\.yaml: cannot read the manifest: ENOENT/);
});

t.test('invalid options name the option', async (t) => {
  await expectError(t, () => ['--name', 'UPPER', '--', 'true'], 125, /^tspod: --name: "UPPER" is not a DNS-1123 label/m);
  await expectError(t, () => ['--share', 'net,mnt', '--', 'true'], 125, /^tspod: --share: "mnt" is not a namespace/m);
  await expectError(t, () => ['-e', 'NOEQUALS', '--', 'true'], 125, /^tspod: -e: "NOEQUALS" is not KEY=VALUE/m);
});

t.test('a --pause that is missing or not executable', async (t) => {
  await expectError(
    t,
    () => ['--pause', '/nonexistent/pause', '--', 'true'],
    125,
    /^tspod: --pause: \/nonexistent\/pause does not exist$/m,
  );
  await expectError(
    t,
    ({ dir }) => {
      writeFileSync(join(dir, 'not-exec'), '');
      return ['--pause', join(dir, 'not-exec'), '--', 'true'];
    },
    125,
    /^tspod: --pause: .*not-exec is not executable$/m,
  );
});

t.test('usage errors are one line with status 125', async (t) => {
  const s = testState(t);
  for (const args of [['--bogus'], ['nosuch'], ['run', '--nope'], ['logs', 'only-one']]) {
    const r = await s.cli(args);
    t.equal(r.code, 125, `${args.join(' ')}: 125`);
    t.match(r.stderr, /^tspod: [^\n]+\(tspod --help for usage\)\n$/, `${args.join(' ')}: one line`);
  }
});
