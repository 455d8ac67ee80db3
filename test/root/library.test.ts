// The library API (src/index.ts) as an experimenter uses it by hand, without a pod: one process
// made in a user namespace of its own maps, with a time namespace, a reduced capability set and
// RuntimeDefault's seccomp filter; each checked from /proc/PID/status, uid_map and the clocks.
import t, { type Test } from 'tap';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  POD_IDS,
  capabilitySets,
  createPodUserNamespace,
  idMapText,
  loadBinding,
  runtimeDefaultFilter,
  timensOffsetsText,
  timeOffsetsOption,
  userNamespaceMaps,
  type ExitStatus,
} from '../../src/index.js';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { cleanup, tempDir } from '../helpers/cleanup.js';

if (!isRoot) t.plan(0, NOT_ROOT);

const b = loadBinding();
const C = b.constants;
const HOST_ID = 3_300_000_000;

/** Runs `script` in sh with the request's extras; its output and status. */
async function run(t: Test, script: string, extra: object): Promise<{ out: string; status: ExitStatus; pid: number }> {
  const file = join(tempDir(t, 'library'), 'out');
  const out = openSync(file, 'w');
  let p;
  try {
    p = b.spawn({ path: '/bin/sh', argv: ['sh', '-c', script], env: ['PATH=/usr/bin:/bin'], stdio: [out, out, out], ...extra });
  } finally {
    closeSync(out);
  }
  const status = await new Promise<ExitStatus>((r) => new b.ExitWatch(p.pidfd, r));
  closeSync(p.pidfd);
  return { out: readFileSync(file, 'utf8'), status, pid: p.pid };
}

t.test(
  'by hand: a user namespace from idMapText, clocks from timeOffsetsOption, capabilities and seccomp from the pod model',
  async (t) => {
    const range = { hostId: HOST_ID, size: POD_IDS };
    const userns = createPodUserNamespace(b, range);
    cleanup(t, 'close the user namespace', () => closeSync(userns));
    t.same(
      Object.values(userNamespaceMaps(b, { fd: userns, type: C.CLONE_NEWUSER, label: 'by hand' })).map((m) =>
        m.trim().split(/\s+/).join(' '),
      ),
      [idMapText(range).trim(), idMapText(range).trim()],
      'its maps are the ones asked for',
    );
    const caps = capabilitySets({ capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } }, 0);
    const r = await run(t, 'cat /proc/self/uid_map; grep -E "^(CapEff|CapBnd|Seccomp):" /proc/self/status; cat /proc/uptime', {
      joinNamespaces: [{ fd: userns, type: C.CLONE_NEWUSER, label: 'by hand' }],
      newNamespaces: C.CLONE_NEWNET | C.CLONE_NEWUTS,
      timeOffsets: timensOffsetsText(timeOffsetsOption('boottime=86400')),
      capabilities: caps,
      seccomp: b.compileSeccomp(runtimeDefaultFilter(['NET_BIND_SERVICE'])),
    });
    t.same(r.status, { code: 0, signal: null, coreDumped: false }, r.out);
    const lines = r.out.trim().split('\n');
    t.equal(lines[0].trim().split(/\s+/).join(' '), `0 ${HOST_ID} ${POD_IDS}`, 'uid_map: the range');
    const bit = (1n << 10n).toString(16).padStart(16, '0'); // CAP_NET_BIND_SERVICE is 10
    t.match(lines[1], new RegExp(`^CapEff:\\s+${bit}$`), 'only NET_BIND_SERVICE effective');
    t.match(lines[2], new RegExp(`^CapBnd:\\s+${bit}$`), 'and bounding');
    t.match(lines[3], /^Seccomp:\s+2$/, 'a seccomp filter');
    const uptime = Number(lines[4].split(' ')[0]);
    const host = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    t.ok(uptime - host > 86000, `CLOCK_BOOTTIME a day ahead inside (${uptime} s against the host's ${host} s)`);
  },
);
