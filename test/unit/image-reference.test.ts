// Image names, platforms, and the file names of image records.
import t from 'tap';
import { formatRef, parseImageRef } from '../../src/pod/image-ref.js';
import { idPrefix, refFileName, shortId } from '../../src/image/reference.js';
import { formatPlatform, hostPlatform, platformMatches } from '../../src/image/formats.js';
import { formatSize } from '../../src/cli/image.js';

t.test('NAME[:TAG], normalized as docker shows names', async (t) => {
  t.same(parseImageRef('busybox'), { name: 'busybox', tag: 'latest' });
  t.same(parseImageRef('busybox:1.36'), { name: 'busybox', tag: '1.36' });
  t.same(parseImageRef('docker.io/library/nginx:1.25'), { name: 'nginx', tag: '1.25' });
  t.same(parseImageRef('library/nginx'), { name: 'nginx', tag: 'latest' });
  t.same(parseImageRef('index.docker.io/foo/bar:v1'), { name: 'foo/bar', tag: 'v1' });
  t.same(parseImageRef('localhost:5000/team/app:2.0-rc_1'), { name: 'localhost:5000/team/app', tag: '2.0-rc_1' });
  t.same(parseImageRef('ghcr.io/org/app'), { name: 'ghcr.io/org/app', tag: 'latest' });
  t.same(parseImageRef('localhost/app'), { name: 'localhost/app', tag: 'latest' });
  t.equal(formatRef(parseImageRef('my.registry:443/x')), 'my.registry:443/x:latest');
  t.throws(() => parseImageRef('Busybox'), { name: 'InputError', problem: /invalid name component "Busybox"/ });
  t.throws(() => parseImageRef('a/../b'), { name: 'InputError', problem: /invalid name component/ });
  t.throws(() => parseImageRef('/abs'), { name: 'InputError' });
  t.throws(() => parseImageRef('x:bad/tag'), { name: 'InputError' });
  t.throws(() => parseImageRef('x:.hidden'), { name: 'InputError', problem: /invalid tag/ });
  t.throws(() => parseImageRef('nginx@sha256:' + 'a'.repeat(64)), { name: 'InputError', problem: /digest references/ });
  t.throws(() => parseImageRef(''), { name: 'InputError' });
  t.throws(() => parseImageRef('A:b', '--name'), { name: 'InputError', field: '--name' });
});

t.test('record file names cannot leave the images directory', async (t) => {
  t.equal(refFileName(parseImageRef('busybox')), 'busybox%3Alatest.json');
  t.equal(refFileName(parseImageRef('localhost:5000/team/app:V1')), 'localhost%3A5000%2Fteam%2Fapp%3A%561.json', 'uppercase escaped too');
  for (const ref of ['a/b/c:d', 'x.y:..', 'deep/' + 'n/'.repeat(100) + 'x']) {
    let name: string;
    try {
      name = refFileName(parseImageRef(ref));
    } catch {
      continue;
    }
    t.notMatch(name, /\//, `${ref}: no slash`);
    t.not(name, '.');
    t.not(name, '..');
    t.ok(Buffer.byteLength(name) < 255, `${ref}: a valid file name length`);
  }
  t.match(refFileName(parseImageRef('deep/' + 'n/'.repeat(100) + 'x')), /^%23[0-9a-f]{64}\.json$/, 'long names keyed by hash');
});

t.test('ids and platforms', async (t) => {
  const hex = 'ab'.repeat(32);
  t.equal(idPrefix(hex), `sha256:${hex}`);
  t.equal(idPrefix(`sha256:${hex.slice(0, 12)}`), `sha256:${hex.slice(0, 12)}`);
  t.equal(idPrefix('abc'), undefined, 'too short to be an id');
  t.equal(idPrefix('busybox'), undefined);
  t.equal(shortId(`sha256:${hex}`), hex.slice(0, 12));
  const host = hostPlatform();
  t.equal(host.os, 'linux');
  t.ok(['amd64', 'arm64'].includes(host.architecture), formatPlatform(host));
  t.ok(platformMatches({ os: 'linux', architecture: 'arm64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }));
  t.notOk(platformMatches({ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }));
  t.notOk(platformMatches({ os: 'linux', architecture: 'arm', variant: 'v7' }, { os: 'linux', architecture: 'arm', variant: 'v6' }));
  t.equal(formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' }), 'linux/arm/v7');
  t.equal(formatSize(999), '999B');
  t.equal(formatSize(1234), '1.23kB');
  t.equal(formatSize(45_600_000), '45.6MB');
});
