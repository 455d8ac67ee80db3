// Where the v2 hierarchy is, read from mountinfo lines; which pod cgroups a record may name.
import t from 'tap';
import { findV1Controllers, findV2Hierarchy } from '../../src/cgroup/hierarchy.js';
import { PodCgroups } from '../../src/cgroup/pod.js';
import type { NativeBinding } from '../../src/native/binding.js';

const line = (point: string, type: string) => `30 25 0:26 / ${point} rw,nosuid shared:4 - ${type} ${type} rw`;

t.test('the layout from mountinfo: unified, hybrid, none; escaped paths', async (t) => {
  t.same(findV2Hierarchy([line('/sys/fs/cgroup', 'cgroup2'), line('/proc', 'proc')].join('\n')), {
    mount: '/sys/fs/cgroup',
    layout: 'unified',
  });
  t.same(
    findV2Hierarchy(
      [line('/sys/fs/cgroup', 'tmpfs'), line('/sys/fs/cgroup/memory', 'cgroup'), line('/sys/fs/cgroup/unified', 'cgroup2')].join('\n'),
    ),
    { mount: '/sys/fs/cgroup/unified', layout: 'hybrid' },
  );
  t.equal(findV2Hierarchy([line('/sys/fs/cgroup/memory', 'cgroup')].join('\n')), undefined, 'v1 only: none');
  t.same(findV2Hierarchy(line('/run/my\\040cgroup', 'cgroup2')), { mount: '/run/my cgroup', layout: 'hybrid' }, '\\040 is a blank');
});

t.test("v1 hierarchies of tspod's controllers, from their super options; cpu may share one", async (t) => {
  const v1 = (point: string, options: string) => `31 25 0:27 / ${point} rw shared:5 - cgroup cgroup rw,${options}`;
  t.same(
    findV1Controllers(
      [
        v1('/sys/fs/cgroup/cpu,cpuacct', 'cpu,cpuacct'),
        v1('/sys/fs/cgroup/memory', 'memory'),
        v1('/sys/fs/cgroup/cpuset', 'cpuset'),
        v1('/sys/fs/cgroup/systemd', 'xattr,name=systemd'),
        line('/sys/fs/cgroup/unified', 'cgroup2'),
      ].join('\n'),
    ),
    { cpu: '/sys/fs/cgroup/cpu,cpuacct', memory: '/sys/fs/cgroup/memory' },
    'cpuset is not cpu; pids is not mounted',
  );
  t.same(findV1Controllers(line('/sys/fs/cgroup', 'cgroup2')), {}, 'unified: none');
});

const here = findV2Hierarchy();
t.test(
  "a record's cgroup is taken only below a tspod root of the hierarchy mounted here",
  { skip: !here && 'no cgroup v2 hierarchy on this host' },
  async (t) => {
    if (!here) return;
    const binding = {} as NativeBinding;
    t.equal(PodCgroups.adopt(binding, { mount: here.mount, name: '/tspod/web-1a2b3c4d' }).record().name, '/tspod/web-1a2b3c4d');
    for (const name of ['/', '/tspod', '/tspod/../etc', '/tspod/./x', '/tspod/a/../../x', 'tspod/web', '/tspod/web name']) {
      t.throws(
        () => PodCgroups.adopt(binding, { mount: here.mount, name }),
        { message: /not a pod cgroup of this host's hierarchy/ },
        name,
      );
    }
    t.throws(() => PodCgroups.adopt(binding, { mount: '/tmp', name: '/tspod/web-1' }), {
      message: /cgroup \/tmp\/tspod\/web-1: not a pod cgroup/,
    });
  },
);
