// crun and podman, when installed: the same pod, through an OCI runtime alone (crun, one
// bundle per container, joined by namespace paths) and through podman (pod create, run -d
// --pod, pod rm -f). Both run the same static programs from a small root file system.
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { benchEnv, now, timeCommand } from './measure.js';
import { onPath, PORT, type Tool } from './cycle.js';
import type { Programs } from './programs.js';

/** Runs a tool's command; its failure says `tool words: exit N: its message`, without paths. */
export function concise<T>(tool: string, words: string[], fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const said = (err as Error).message.replace(/^.*?: (exit \S+: )/, '$1');
    throw new Error(`${tool} ${words.filter((w) => !w.includes('/')).join(' ')}: ${said}`);
  }
}

/** A root with just the two static programs: /pause and /bench-tcp. */
function makeRootfs(p: Programs, dir: string): string {
  const root = `${dir}/rootfs`;
  for (const d of ['proc', 'dev', 'sys', 'tmp']) mkdirSync(`${root}/${d}`, { recursive: true });
  copyFileSync(p.pause, `${root}/pause`);
  copyFileSync(p.tcp, `${root}/bench-tcp`);
  return root;
}

type NsType = 'network' | 'ipc' | 'uts' | 'pid' | 'mount';

function ociConfig(root: string, args: string[], namespaces: { type: NsType; path?: string }[], hostname?: string): object {
  return {
    ociVersion: '1.0.2',
    process: { terminal: false, user: { uid: 0, gid: 0 }, args, env: ['PATH=/'], cwd: '/', noNewPrivileges: true },
    root: { path: root, readonly: true },
    ...(hostname ? { hostname } : {}),
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    ],
    linux: { namespaces },
  };
}

export function crunTool(p: Programs, dir: string): Tool {
  const base = `${dir}/crun`;
  const state = `${base}/state`;
  const crun = (...args: string[]) =>
    concise('crun', args, () => timeCommand(['crun', '--root', state, '--cgroup-manager=disabled', ...args], benchEnv()));
  const bundle = (name: string, config: object) => {
    mkdirSync(`${base}/${name}`, { recursive: true });
    writeFileSync(`${base}/${name}/config.json`, JSON.stringify(config));
    return `${base}/${name}`;
  };
  let root = '';
  const infraConfig = () =>
    ociConfig(root, ['/pause'], [{ type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'pid' }, { type: 'mount' }], 'bench');
  const ids = ['bench-client', 'bench-server', 'bench-infra'];
  return {
    name: 'crun',
    what: 'crun run -d per container (no cgroups), joined by /proc/PID/ns paths, crun delete -f',
    skip: onPath('crun') ? undefined : 'crun is not installed',
    setup: () => {
      mkdirSync(state, { recursive: true });
      root = makeRootfs(p, base);
      // A host crun cannot work on (cgroups it refuses, say) is skipped with crun's reason.
      crun('run', '-d', '--bundle', bundle('infra', infraConfig()), 'bench-infra');
      crun('delete', '-f', 'bench-infra');
    },
    run: async () => {
      const t0 = now();
      crun('run', '-d', '--bundle', bundle('infra', infraConfig()), 'bench-infra');
      const infraPid = Number(crun('state', 'bench-infra').stdout.match(/"pid":\s*(\d+)/)![1]);
      const t1 = now();
      const joined = (args: string[]) =>
        ociConfig(root, args, [
          ...(['network', 'ipc', 'uts', 'pid'] as const).map((type) => ({ type, path: `/proc/${infraPid}/ns/${nsFile(type)}` })),
          { type: 'mount' },
        ]);
      crun('run', '-d', '--bundle', bundle('server', joined(['/bench-tcp', 'serve', PORT])), 'bench-server');
      const t2 = now();
      // In the foreground: crun run's status is the client's.
      crun('run', '--bundle', bundle('client', joined(['/bench-tcp', 'connect', PORT])), 'bench-client');
      const t3 = now();
      crun('delete', '-f', 'bench-server');
      crun('delete', '-f', 'bench-infra');
      const t4 = now();
      return { infra: t1 - t0, join1: t2 - t1, client: t3 - t2, teardown: t4 - t3, total: t4 - t0 };
    },
    teardown: () => {
      for (const id of ids) {
        try {
          crun('delete', '-f', id);
        } catch {
          // not there
        }
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}

const nsFile = (t: NsType) => (t === 'network' ? 'net' : t === 'mount' ? 'mnt' : t);

/** podman's pod cycle, with its own storage under dir (nothing of the host's is touched). */
export function podmanTool(p: Programs, dir: string): Tool {
  const base = `${dir}/podman`;
  const args = ['--root', `${base}/storage`, '--runroot', `${base}/run`, '--cgroup-manager', 'cgroupfs', '--events-backend', 'none'];
  const podman = (...a: string[]) => concise('podman', a, () => timeCommand(['podman', ...args, ...a], benchEnv()));
  return {
    name: 'podman',
    what: 'podman pod create --share net,ipc,uts,pid --network none, run -d --pod ×2, pod rm -f',
    skip: onPath('podman') ? undefined : 'podman is not installed',
    setup: () => {
      const root = makeRootfs(p, base);
      // An image from the same root, imported from a tar: podman never reaches a registry here.
      timeCommand(['tar', '-C', root, '-cf', `${base}/rootfs.tar`, '.'], benchEnv());
      podman('import', `${base}/rootfs.tar`, 'localhost/tspod-bench:latest');
      // A host podman cannot run pods on (rlimits or cgroups it may not set) is skipped with its reason.
      podman('pod', 'create', '--name', 'bench', '--share', 'net,ipc,uts,pid', '--network', 'none');
      try {
        podman('pod', 'start', 'bench');
      } finally {
        podman('pod', 'rm', '-f', '-t', '0', 'bench');
      }
    },
    run: async () => {
      const t0 = now();
      podman('pod', 'create', '--name', 'bench', '--share', 'net,ipc,uts,pid', '--network', 'none');
      podman('pod', 'start', 'bench');
      const t1 = now();
      podman('run', '-d', '--pod', 'bench', '--name', 'bench-server', 'localhost/tspod-bench:latest', '/bench-tcp', 'serve', PORT);
      const t2 = now();
      // Attached: podman run's status is the client's.
      podman('run', '--pod', 'bench', '--name', 'bench-client', 'localhost/tspod-bench:latest', '/bench-tcp', 'connect', PORT);
      const t3 = now();
      podman('pod', 'rm', '-f', '-t', '0', 'bench');
      const t4 = now();
      return { infra: t1 - t0, join1: t2 - t1, client: t3 - t2, teardown: t4 - t3, total: t4 - t0 };
    },
    teardown: () => {
      try {
        podman('pod', 'rm', '-f', '-t', '0', 'bench');
      } catch {
        // not there
      }
      try {
        podman('system', 'reset', '-f');
      } catch {
        // its storage goes with the directory below
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}
