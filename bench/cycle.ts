// The pod cycle, through each tool: the infra in new net, ipc, uts and pid namespaces; a TCP
// server and a client that join it and talk over 127.0.0.1; the client's success; everything
// removed. Each tool's run returns its step times (ms) and a total.
import { closeSync, existsSync, mkdirSync, openSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import {
  DEFAULT_CGROUP_ROOT,
  findV2Hierarchy,
  loadBinding,
  PodCgroups,
  newPodSpec,
  Pod,
  PodHost,
  type PodProcess,
  startContainer,
  startInfra,
  StateStore,
  type ContainerLaunch,
  type PodIO,
  type PodSpec,
} from 'tspod';
import { benchEnv, benchLog, now, sleepMs, timeCommand } from './measure.js';
import type { Programs } from './programs.js';

export const PORT = '8080';

export interface Tool {
  name: string;
  /** What it stands for, in the report. */
  what: string;
  /** Why it cannot run here; undefined when it can. */
  skip?: string;
  setup?(): Promise<void> | void;
  run(): Promise<Record<string, number>>;
  teardown?(): Promise<void> | void;
}

/** Every process of a library pod gets /dev/null: output handling is the LoggingIO's cost, measured with PodHost. */
class NullIO implements PodIO {
  open() {
    const fd = openSync('/dev/null', 'r+');
    return { stdio: [fd, fd, fd] as [number, number, number], release: () => closeSync(fd) };
  }
  async close(): Promise<void> {}
}

export function podSpec(p: Programs, name: string, resultFile?: string): PodSpec {
  const spec = newPodSpec(name, [
    { name: 'server', command: [p.tcp, 'serve', PORT], args: [], env: [] },
    { name: 'client', command: [p.tcp, 'connect', PORT, ...(resultFile ? [resultFile] : [])], args: [], env: [] },
  ]);
  spec.terminationGracePeriodSeconds = 5;
  for (const c of spec.containers) c.workingDir = '/';
  return spec;
}

/** The same pod as a manifest, for the CLI. */
export function podManifest(p: Programs, name: string, resultFile: string): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 5
  containers:
    - name: server
      command: [${p.tcp}, serve, "${PORT}"]
    - name: client
      command: [${p.tcp}, connect, "${PORT}", ${resultFile}]
`;
}

function jsonLine(out: string): Record<string, number> {
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
}

function waitForFile(file: string, timeoutMs: number): void {
  const deadline = now() + timeoutMs;
  while (!existsSync(file)) {
    if (now() > deadline) throw new Error(`the client did not report success in ${timeoutMs} ms (${file})`);
    sleepMs(0.2);
  }
}

/** The v2 hierarchy, where the tools make their pods' cgroups as tspod does; undefined: none. */
const v2 = findV2Hierarchy();

export function floorTool(p: Programs): Tool {
  // The floor's pod cgroups go below a directory of its own, made and removed by the bench.
  const parent = v2 && `${v2.mount}/tspod-bench-floor`;
  return {
    name: 'C floor',
    what: `bench/floor.c: clone3${parent ? ' into cgroups' : ''}, setns through a pidfd, exec; its own start-up not counted`,
    setup: () => {
      if (parent) mkdirSync(parent);
    },
    run: async () => jsonLine(timeCommand([p.floor, p.pause, p.tcp, PORT, ...(parent ? [parent] : [])], benchEnv()).stdout),
    teardown: () => {
      if (parent && existsSync(parent)) rmdirSync(parent);
    },
  };
}

export function shellTool(p: Programs): Tool {
  const missing = ['unshare', 'nsenter', 'ip'].filter((c) => !onPath(c));
  return {
    name: 'util-linux script',
    what: 'bench/pod.sh: unshare, nsenter, ip; bash start-up counted',
    skip: missing.length ? `${missing.join(', ')} not installed` : undefined,
    run: async () => {
      const { ms, stdout } = timeCommand(['bash', p.shell, p.pause, p.tcp, PORT], benchEnv());
      return { ...jsonLine(stdout), total: ms };
    },
  };
}

/** The spawn layer: startInfra, startContainer and pidfds, in this process. */
export function spawnTool(p: Programs): Tool {
  const launch = (argv: string[]): ContainerLaunch => ({
    name: argv[1],
    path: argv[0],
    argv,
    env: ['PATH=/usr/bin:/bin'],
    cwd: '/',
    share: ['net', 'ipc', 'uts', 'pid'],
    hostname: 'bench',
  });
  return {
    name: 'tspod library: spawn',
    what: 'startInfra + startContainer + PodProcess, in the bench process',
    run: async () => {
      const binding = loadBinding();
      const io = new NullIO().open();
      const started: PodProcess[] = [];
      try {
        const t0 = now();
        const infra = await startInfra(binding, { hostname: 'bench', stdio: io.stdio });
        started.push(infra);
        const t1 = now();
        const server = startContainer(binding, infra, launch([p.tcp, 'serve', PORT]), io.stdio);
        started.push(server);
        const t2 = now();
        const client = startContainer(binding, infra, launch([p.tcp, 'connect', PORT]), io.stdio);
        started.push(client);
        const t3 = now();
        const status = await client.exited;
        const t4 = now();
        server.signal(15);
        await server.exited;
        infra.signal(15);
        await infra.exited;
        const t5 = now();
        if (status.code !== 0) throw new Error(`the client exited with ${JSON.stringify(status)}`);
        return { infra: t1 - t0, join1: t2 - t1, join2: t3 - t2, client: t4 - t3, teardown: t5 - t4, total: t5 - t0 };
      } finally {
        // A failed round leaves nothing running: what started is killed and waited for.
        for (const proc of started.filter((x) => x.running)) proc.signal(9);
        await Promise.all(started.map((x) => x.exited));
        io.release();
      }
    },
  };
}

/** A Pod: the supervisor object (restart policy, events), no state on disk. */
export function podTool(p: Programs): Tool {
  return {
    name: 'tspod library: Pod',
    what: `Pod.start${v2 ? ' (in its cgroups, as PodHost makes them)' : ''}, the client's exit event, pod.stop(), in the bench process`,
    run: async () => {
      const t0 = now();
      const binding = loadBinding();
      const cgroups = v2 && PodCgroups.create(binding, v2.mount, 'bench');
      const pod = await Pod.start(podSpec(p, 'bench'), { binding, io: new NullIO(), cwd: '/', cgroups });
      const t1 = now();
      try {
        const status = await clientExit(pod);
        const t2 = now();
        await pod.stop();
        const t3 = now();
        if (status !== 0) throw new Error(`the client exited with status ${status}`);
        return { start: t1 - t0, client: t2 - t1, teardown: t3 - t2, total: t3 - t0 };
      } finally {
        await pod.kill();
      }
    },
  };
}

function clientExit(pod: Pod): Promise<number | null> {
  const done = pod.containers.find((c) => c.name === 'client' && !c.running);
  if (done) return Promise.resolve(done.exit?.code ?? null);
  return new Promise((resolve) => {
    const on = (name: string, status: { code: number | null }) => {
      if (name !== 'client') return;
      pod.off('container-exit', on);
      resolve(status.code);
    };
    pod.on('container-exit', on);
  });
}

/** What the monitor does for a detached pod: state, logs, /dev/shm, /proc; in this process. */
export function hostTool(p: Programs, root: string): Tool {
  let host: PodHost;
  let store: StateStore;
  return {
    name: 'tspod library: PodHost',
    what: "PodHost.create/remove: the monitor's work (state, CRI logs, /dev/shm), in the bench process",
    setup: () => {
      store = new StateStore(root);
      store.ensureRoot();
      host = new PodHost(store, loadBinding(), { kind: 'monitor', pid: process.pid, startTime: '' }, benchLog, {
        ...(v2 ? { cgroups: { mount: v2.mount, root: DEFAULT_CGROUP_ROOT } } : {}),
      });
    },
    run: async () => {
      const t0 = now();
      const pod = await host.create(podSpec(p, 'bench'));
      const t1 = now();
      try {
        const status = await clientExit(pod);
        const t2 = now();
        await host.remove('bench', true);
        const t3 = now();
        if (status !== 0) throw new Error(`the client exited with status ${status}`);
        return { start: t1 - t0, client: t2 - t1, teardown: t3 - t2, total: t3 - t0 };
      } finally {
        if (host.pods.has('bench')) await host.remove('bench', true);
      }
    },
  };
}

/** The CLI as a user runs it: run -d -f, then rm -f, each a new Node process; the monitor runs. */
export function cliTool(p: Programs, root: string, dir: string): Tool {
  const manifest = `${dir}/pod.yaml`;
  const result = `${dir}/client-ok`;
  const env = benchEnv({ TSPOD_ROOT: root });
  const tspod = (...args: string[]) => timeCommand([process.execPath, p.cli, ...args], env);
  const removeQuietly = () => {
    try {
      tspod('rm', '-f', 'bench');
    } catch {
      // not there
    }
  };
  return {
    name: 'tspod CLI',
    what: "`tspod run -d -f pod.yaml`, the client's result file, `tspod rm -f`; Node start-up counted",
    setup: () => {
      writeFileSync(manifest, podManifest(p, 'bench', result));
      // The first run -d starts the monitor, once per boot for a user: not part of the cycle.
      const first = tspod('run', '-d', '-f', manifest).ms;
      waitForFile(result, 10_000);
      tspod('rm', '-f', 'bench');
      process.stderr.write(`bench: the first tspod run -d, which started the monitor: ${first.toFixed(0)} ms\n`);
    },
    run: async () => {
      rmSync(result, { force: true });
      const t0 = now();
      const run = tspod('run', '-d', '-f', manifest).ms;
      try {
        waitForFile(result, 10_000);
      } catch (err) {
        removeQuietly(); // or every later round fails on a name still taken
        throw err;
      }
      const t1 = now();
      const rm = tspod('rm', '-f', 'bench').ms;
      const t2 = now();
      return { run, client: t1 - t0 - run, rm, total: t2 - t0 };
    },
    teardown: removeQuietly,
  };
}

export function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin').split(':').some((d) => d && existsSync(`${d}/${cmd}`));
}
