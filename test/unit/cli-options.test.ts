import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkRunWords } from '../../src/cli/run.js';
import { podFromRunOptions } from '../../src/cli/run-spec.js';
import { runExitStatus } from '../../src/cli/run-foreground.js';
import {
  applyContainerOptions,
  applyNetworkOptions,
  envOption,
  programOption,
  publishOption,
  secondsOption,
  shareOption,
} from '../../src/cli/options.js';
import { checkLabel } from '../../src/pod/names.js';
import { newPodSpec } from '../../src/pod/spec.js';
import type { PodResult } from '../../src/runtime/pod.js';
import { tempDir } from '../helpers/cleanup.js';

t.test('option checks name the option', async (t) => {
  t.same(shareOption('pid,net'), ['net', 'pid'], 'canonical order');
  t.same(shareOption(''), []);
  t.throws(() => shareOption('net,mnt'), { name: 'InputError', field: '--share', problem: /"mnt" is not a namespace/ });
  t.same(envOption(['A=1', 'B=x=y', 'C=']), [
    { name: 'A', value: '1' },
    { name: 'B', value: 'x=y' },
    { name: 'C', value: '' },
  ]);
  t.throws(() => envOption(['NOVALUE']), { name: 'InputError', field: '-e', problem: /not KEY=VALUE/ });
  t.throws(() => envOption(['=x']), { name: 'InputError', field: '-e' });
  t.equal(secondsOption('--grace', '0'), 0);
  t.throws(() => secondsOption('--grace', '1.5'), { name: 'InputError', field: '--grace' });
  t.throws(() => secondsOption('--grace', '-1'), { name: 'InputError', field: '--grace' });
  t.throws(() => checkLabel('--name', 'Bad_Name'), { name: 'InputError', field: '--name', problem: /DNS-1123/ });
  t.equal(programOption('--pause', '/bin/true'), '/bin/true');
  t.throws(() => programOption('--pause', '/nonexistent/pause'), { name: 'InputError', field: '--pause', problem: /does not exist/ });
  const dir = tempDir(t, 'opt');
  writeFileSync(join(dir, 'data'), 'x', { mode: 0o644 });
  t.throws(() => programOption('--pause', join(dir, 'data')), { name: 'InputError', field: '--pause', problem: /not executable/ });
  t.throws(() => programOption('--pause', '/tmp'), { name: 'InputError', field: '--pause', problem: /not a regular file/ });
  const imageSpec = (image: string) => {
    const spec = newPodSpec('x', [{ name: 'x', command: [], args: [], env: [] }]);
    applyContainerOptions(spec, { image });
    return spec.containers[0].image;
  };
  t.equal(imageSpec('localhost:5000/app:1'), 'localhost:5000/app:1');
  t.throws(() => imageSpec('App'), { name: 'InputError', field: '--image', problem: /invalid name component "App"/ });
});

t.test('a command becomes a one-container pod; its words are literal', async (t) => {
  const spec = await podFromRunOptions(['sh', '-c', 'echo $$ $(HOME)'], {
    env: ['X=$(PATH)'],
    publish: [],
    name: 'web',
    share: 'net,pid',
    grace: '3',
  });
  t.equal(spec.name, 'web');
  t.equal(spec.hostname, 'web');
  t.same(spec.share, ['net', 'pid']);
  t.equal(spec.terminationGracePeriodSeconds, 3);
  t.same(spec.containers[0].command, ['sh']);
  t.same(spec.containers[0].args, ['-c', 'echo $$$$ $$(HOME)'], 'escaped from $(VAR) expansion');
  t.same(spec.containers[0].env, [{ name: 'X', value: '$$(PATH)' }]);
  const anon = await podFromRunOptions(['true'], { env: [], publish: [] });
  t.match(anon.name, /^tspod-[0-9a-f]{6}$/);
  t.throws(() => checkRunWords([], { env: [], publish: [] }), { name: 'InputError', field: 'run', problem: /give a command/ });
  t.throws(() => checkRunWords(['true'], { env: [], publish: [], file: 'x.yaml' }), { name: 'InputError', problem: /not both/ });
  t.throws(() => checkRunWords([], { env: [], publish: [], file: 'x.yaml', user: '1' }), {
    name: 'InputError',
    field: '--user',
    problem: /a manifest sets it per container/,
  });
  const user = (value: string) => {
    const spec = newPodSpec('u', [{ name: 'c', command: ['true'], args: [], env: [] }]);
    applyContainerOptions(spec, { user: value });
    return spec.containers[0].securityContext;
  };
  t.same(user('1000:50'), { runAsUser: 1000, runAsGroup: 50 });
  t.throws(() => user('app'), { name: 'InputError', field: '--user', problem: /not UID\[:GID\]/ });
  t.throws(
    () => user('4294967295'),
    { name: 'InputError', field: '--user', problem: /from 0 to 4294967294, not 4294967295/ },
    'the id range is checked here, not by the spawn',
  );
  t.throws(() => user('1:99999999999'), { name: 'InputError', field: '--user' });
  await t.rejects(podFromRunOptions(['true'], { env: [], publish: [], workdir: 'rel' }), { name: 'InputError', field: '--workdir' });
});

t.test('exit status of tspod run', async (t) => {
  const exit = (code: number | null, signal: number | null = null) => ({ code, signal, coreDumped: false });
  const result = (reason: PodResult['reason'], ...exits: ReturnType<typeof exit>[]): PodResult => ({
    reason,
    containers: exits.map((e, i) => ({ name: `c${i}`, exit: e })),
    infraExit: exit(0),
  });
  t.equal(runExitStatus(result('completed', exit(3))), 3, 'one container: its status');
  t.equal(runExitStatus(result('completed', exit(null, 9))), 137, 'killed by a signal: 128+N');
  t.equal(runExitStatus(result('completed', exit(0), exit(0))), 0);
  t.equal(runExitStatus(result('completed', exit(0), exit(2), exit(5))), 2, 'the first that failed');
  t.equal(runExitStatus(result('stopped', exit(0)), 15), 143, 'stopped by SIGTERM');
  t.equal(runExitStatus(result('infra-exited', exit(0))), 125);
});

t.test('-p and --network', async (t) => {
  t.same(publishOption('8880:80'), { hostPort: 8880, containerPort: 80, protocol: 'tcp' });
  t.same(publishOption('127.0.0.2:53:5353/udp'), { hostPort: 53, containerPort: 5353, protocol: 'udp', hostIP: '127.0.0.2' });
  t.same(publishOption('[::1]:8080:80'), { hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '::1' });
  t.throws(() => publishOption('80'), { name: 'InputError', field: '-p', problem: /is not \[hostIP:\]hostPort:podPort/ });
  t.throws(() => publishOption('0:80'), { name: 'InputError', field: '-p', problem: /port number/ });
  t.throws(() => publishOption('8080:80/sctp'), { name: 'InputError', field: '-p' });
  t.throws(() => publishOption('nohost:8080:80'), { name: 'InputError', field: '-p', problem: /not an IP address/ });
  const spec = await podFromRunOptions(['true'], { env: [], publish: ['8880:80', '8881:81/udp'], network: 'cni:lab' });
  t.same(spec.network, { mode: 'cni', name: 'lab' });
  t.equal(spec.ports.length, 2);
  t.throws(() => applyNetworkOptions(spec, 'bridge', []), { name: 'InputError', field: '--network' });
  t.throws(() => applyNetworkOptions(spec, undefined, ['8880:90']), { name: 'InputError', problem: /8880\/tcp is published twice/ });
});
