// Damaged entries in the state directory and the image store: each is named on one line and
// left out, and the listings, the API and the image commands go on with the rest. (Before,
// one of them made ps, pod ls, GET /v1/pods and image import/rm fail with TypeErrors.)
import t from 'tap';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MonitorClient } from '../../src/monitor/client.js';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { tempDir } from '../helpers/cleanup.js';
import { waitFor } from '../helpers/proc.js';
import { testState } from '../helpers/state.js';
import { buildImage, writeOciLayoutDir, writeTar } from '../helpers/image-builder.js';

if (!isRoot) t.plan(0, NOT_ROOT);

t.test('a bad pod directory or record is skipped with a line naming it; ps, pod ls and the API list the rest', async (t) => {
  const s = testState(t);
  t.equal((await s.cli(['pod', 'create', 'good'])).code, 0);
  const pods = s.store.paths.podsDir;
  const good = readFileSync(s.store.paths.podFile('good'), 'utf8');
  const damage = (name: string, text: string) => {
    mkdirSync(join(pods, name));
    writeFileSync(join(pods, name, 'pod.json'), text);
  };
  mkdirSync(join(pods, 'Bad_Name'));
  damage('cut', good.replace(/"good"/g, '"cut"').slice(0, 100));
  damage('nul', 'null');
  const noContainers = JSON.parse(good.replace(/"good"/g, '"nofield"')) as Record<string, unknown>;
  delete noContainers.containers;
  damage('nofield', JSON.stringify(noContainers));

  const expected = [
    /^tspod: skipped: \S+\/pods\/Bad_Name is not a pod: its name is not a DNS-1123 label \(remove it by hand\)$/m,
    /^tspod: skipped: \S+\/pods\/cut\/pod\.json: unreadable pod record: /m,
    /^tspod: skipped: \S+\/pods\/nofield\/pod\.json: damaged pod record: containers is not a list$/m,
    /^tspod: skipped: \S+\/pods\/nul\/pod\.json: unreadable pod record: not an object$/m,
  ];
  for (const args of [
    ['ps', '-a', '--json'],
    ['pod', 'ls', '--json'],
  ]) {
    const r = await s.cli(args);
    t.equal(r.code, 0, `tspod ${args.join(' ')} succeeds`);
    t.same(
      (JSON.parse(r.stdout) as { pod?: string; name?: string }[]).map((x) => x.pod ?? x.name),
      args[0] === 'ps' ? ['good'] : ['good'],
      'and lists the good pod',
    );
    for (const line of expected) t.match(r.stderr, line);
    t.equal(r.stderr.trim().split('\n').length, 4, 'one line for each bad entry');
  }
  const listed = await new MonitorClient(s.store.paths).listPods({});
  t.same(
    listed.map((r) => r.name),
    ['good'],
    'GET /v1/pods lists the good pod',
  );
  await waitFor('the monitor to log what it left out', () =>
    /pod nul: left out of the listing: .*nul\/pod\.json: unreadable pod record: not an object/.test(
      readFileSync(s.store.paths.monitorLog, 'utf8'),
    ),
  );
  t.match(
    (await s.cli(['inspect', 'nul'])).stderr,
    /^tspod: \S+\/nul\/pod\.json: unreadable pod record: not an object\n$/,
    'a damaged pod named alone is a one-line error',
  );
});

t.test('a damaged image record is skipped by image ls and import; image rm says which pod record it cannot read', async (t) => {
  const images = tempDir(t, 'images');
  const s = testState(t, { TSPOD_IMAGE_ROOT: images });
  const src = tempDir(t, 'src');
  const layout = writeOciLayoutDir(join(src, 'layout'), buildImage({ layers: [writeTar([{ path: 'f', body: 'x' }])] }));
  t.equal((await s.cli(['image', 'import', layout, '--name', 'one:1'])).code, 0);
  writeFileSync(join(images, 'images', 'broken%3A1.json'), 'null');
  const ls = await s.cli(['image', 'ls', '--json']);
  t.equal(ls.code, 0);
  t.same(
    (JSON.parse(ls.stdout) as { name: string }[]).map((i) => i.name),
    ['one:1'],
  );
  t.match(ls.stderr, /^tspod: skipped: \S+\/images\/broken%3A1\.json: unreadable image record: not an object\n$/);
  const again = await s.cli(['image', 'import', layout, '--name', 'two:1']);
  t.equal(again.code, 0, again.stderr);
  t.equal((await s.cli(['image', 'rm', 'two:1'])).code, 0, 'rm works beside the damaged record');

  // A pod record that cannot be read may use any layer: rm then removes nothing, and says why.
  mkdirSync(join(s.store.paths.podsDir, 'nul'), { recursive: true });
  writeFileSync(join(s.store.paths.podsDir, 'nul', 'pod.json'), 'null');
  const rm = await s.cli(['image', 'rm', 'one:1']);
  t.equal(rm.code, 125);
  t.match(rm.stderr, /^tspod: cannot tell which layers are in use: \S+\/nul\/pod\.json: unreadable pod record: not an object$/m);
  t.match((await s.cli(['image', 'ls'])).stdout, /one:1/, 'the image is still there');
});
