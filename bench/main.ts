// npm run bench [-- --quick] [--iterations N] [--pods N] [--out DIR]
//
// The pod cycle through every tool installed, interleaved (A B C A B C ...) so that the noise
// of a shared machine falls on all of them alike; then start-up, memory per pod, scale and
// pause. Prints Markdown tables and writes them, with the raw numbers as JSON, to bench/results.
// --quick (CI): one iteration and few pods, only to keep the bench working.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadBinding, PodProcess, releaseRecorded, StatePaths, StateStore } from 'tspod';
import { cliTool, floorTool, hostTool, podTool, shellTool, spawnTool, type Tool } from './cycle.js';
import { benchEnv, StepSamples, timeCommand, type Stats } from './measure.js';
import { crunTool, podmanTool } from './oci.js';
import { buildPrograms, type Programs } from './programs.js';
import { markdown, type CycleResult, type Results, type Target } from './report.js';
import {
  interleave,
  libraryScale,
  pauseSizes,
  podmanMemory,
  probeCost,
  removeCliPods,
  serverManifest,
  startCliPods,
  startup,
  tspodMemory,
  type ScaleResult,
} from './sections.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    iterations: { type: 'string' },
    pods: { type: 'string' },
    out: { type: 'string' },
  },
});
const quick = args.quick!;
const iterations = Number(args.iterations ?? (quick ? 1 : 30));
const scalePods = Number(args.pods ?? (quick ? 10 : 500));
const memoryPods = quick ? [1, 3] : [1, 10, 100];
/** podman takes about a second per pod: measured up to this many. */
const PODMAN_MEMORY_MAX = 10;
const outDir = args.out ?? join(__dirname, '../results');

if (process.getuid?.() !== 0) {
  process.stderr.write('bench: needs root (namespaces, mounts): sudo npm run bench\n');
  process.exit(1);
}
for (const [name, v] of [
  ['--iterations', iterations],
  ['--pods', scalePods],
] as const) {
  if (!Number.isInteger(v) || v < 1) {
    process.stderr.write(`bench: ${name} must be a whole number of at least 1\n`);
    process.exit(1);
  }
}

const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

/** Two `node -e 0` in a row: the floor of any two Node commands, for the CLI's target. */
function nodeTwiceTool(): Tool {
  const env = benchEnv();
  return {
    name: 'reference: node -e 0, twice',
    what: 'two `node -e 0` one after the other: what any two Node commands cost at least',
    run: async () => {
      const a = timeCommand([process.execPath, '-e', '0'], env).ms;
      const b = timeCommand([process.execPath, '-e', '0'], env).ms;
      return { total: a + b };
    },
  };
}

/** Two commands that do what any client of the monitor must: Node, one request. */
function clientFloorTool(root: string): Tool {
  const env = benchEnv();
  const argv = [process.execPath, join(__dirname, 'client-floor.js'), `${root}/monitor.sock`];
  return {
    name: 'reference: one request, twice',
    what: 'bench/client-floor.ts twice: Node and one GET to the monitor; the floor of any two tspod commands that ask it',
    run: async () => ({ total: timeCommand(argv, env).ms + timeCommand(argv, env).ms }),
  };
}

async function runCycle(tools: Tool[]): Promise<CycleResult[]> {
  const samples = new Map<Tool, StepSamples>();
  const skips = new Map<Tool, string>();
  for (const tool of tools) {
    if (tool.skip) {
      skips.set(tool, tool.skip);
      continue;
    }
    try {
      await tool.setup?.();
      samples.set(tool, new StepSamples());
    } catch (err) {
      skips.set(tool, `its set-up failed: ${(err as Error).message}`);
    }
  }
  for (let i = 0; i < iterations; i++) {
    for (const [tool, s] of samples) {
      try {
        s.addAll(await tool.run());
      } catch (err) {
        s.of('total').fail(err);
        log(`${tool.name}: ${(err as Error).message}`);
      }
    }
  }
  return tools.map((t) => ({
    tool: t.name,
    what: t.what,
    ...(skips.has(t) ? { skip: skips.get(t) } : {}),
    steps: samples.get(t)?.stats() ?? {},
  }));
}

/** Stops the monitor of a state directory and releases whatever its records still hold. */
async function tearDownRoot(root: string): Promise<void> {
  const binding = loadBinding();
  const store = new StateStore(root);
  if (!existsSync(root)) return;
  try {
    const m = JSON.parse(readFileSync(new StatePaths(root).monitorFile, 'utf8')) as { pid: number; startTime: string };
    const monitor = PodProcess.adopt(binding, m);
    monitor?.signal(15);
    await monitor?.exited;
  } catch {
    // no monitor ran here
  }
  for (const name of store.names()) {
    const record = store.read(name);
    if (record) await releaseRecorded(binding, store, record);
  }
}

function targets(r: Omit<Results, 'targets'>): Target[] {
  const total = (tool: string) => r.cycle.find((c) => c.tool === tool && !c.skip)?.steps.total?.median ?? NaN;
  const check = (what: string, value: number, limit: number, fmt: (v: number) => string, atMost = true): Target => ({
    what,
    measured: Number.isFinite(value) ? fmt(value) : '-',
    limit: `${atMost ? '≤' : '≥'} ${fmt(limit)}`,
    met: Number.isFinite(value) ? (atMost ? value <= limit : value >= limit) : undefined,
  });
  const x = (v: number) => `${v.toFixed(2)}x`;
  const reference = (what: string, value: number, fmt: (v: number) => string): Target => ({
    what,
    measured: Number.isFinite(value) ? fmt(value) : '-',
    limit: '',
    met: null,
  });
  const lib = total('tspod library: Pod');
  const cli = total('tspod CLI');
  const node = r.startup['node -e 0']?.median ?? NaN;
  const mem = r.memory.filter((m) => m.tool === 'tspod' && 'perPod' in m).at(-1);
  const pause = r.pause[0];
  return [
    check('library pod cycle ÷ C floor', lib / total('C floor'), 2, x),
    check('library pod cycle ÷ util-linux script', lib / total('util-linux script'), 1, x),
    check('CLI run -d + rm -f ÷ two node -e 0', cli / total('reference: node -e 0, twice'), 1.3, x),
    reference(
      '(floor: one request, twice ÷ two node -e 0)',
      total('reference: one request, twice') / total('reference: node -e 0, twice'),
      x,
    ),
    check('CLI cycle ÷ podman cycle', cli / total('podman'), 0.25, x),
    check('tspod --version ÷ node -e 0', (r.startup['tspod --version']?.median ?? NaN) / node, 1.15, x),
    check(
      `RSS per pod left running, ${mem && 'pods' in mem ? mem.pods : '?'} pods`,
      mem && 'perPod' in mem ? mem.perPod.rssKb : NaN,
      1024,
      (v) => `${Math.round(v)} kB`,
    ),
    check(
      `library pods created per second (${r.scale?.pods ?? '?'} pods)`,
      r.scale?.library.createPerSec ?? NaN,
      100,
      (v) => `${Math.round(v)}/s`,
      false,
    ),
    check(
      `tspod ps with ${r.scale?.pods ?? '?'} pods ÷ node -e 0`,
      (r.scale?.ps['tspod ps']?.median ?? NaN) / (r.scale?.ps['node -e 0']?.median ?? NaN),
      1.5,
      x,
    ),
    check(`pause size (${pause.arch})`, pause.bytes, 16384, (v) => `${v} B`),
    ...r.pause.slice(1).map((p) => check(`pause size (${p.arch})`, p.bytes, 16384, (v) => `${v} B`)),
    check(`pause RSS (${pause.arch})`, pause.rssKb ?? NaN, 16, (v) => `${v} kB`),
  ];
}

async function main(): Promise<number> {
  // On /run (tmpfs), as tspod's own state is by default: no disk in the measurements.
  const dir = mkdtempSync('/run/tspod-bench-');
  const cliRoot = `${dir}/cli`;
  const tools: Tool[] = [];
  let p: Programs;
  try {
    p = buildPrograms();
    const podman = podmanTool(p, dir);
    tools.push(
      floorTool(p),
      spawnTool(p),
      podTool(p),
      hostTool(p, `${dir}/host`),
      shellTool(p),
      cliTool(p, cliRoot, dir),
      nodeTwiceTool(),
      clientFloorTool(cliRoot),
      crunTool(p, dir),
      podman,
    );
    log(`pod cycle: ${iterations} round(s) of ${tools.length} tools`);
    const cycle = await runCycle(tools);

    log('start-up');
    const start = startup(p, Math.max(iterations, quick ? 1 : 20));

    log(`memory with ${memoryPods.join(', ')} pods`);
    const manifest = serverManifest(p, dir);
    const memory: Results['memory'] = [];
    const podmanReady = !cycle.find((c) => c.tool === 'podman')?.skip;
    for (const n of memoryPods) {
      const { names } = startCliPods(p, cliRoot, manifest, `mem${n}-`, n, 2);
      try {
        memory.push(tspodMemory(cliRoot, names));
      } finally {
        await removeCliPods(cliRoot, names);
      }
      if (podmanReady && n <= PODMAN_MEMORY_MAX) memory.push(podmanMemory(`${dir}/podman`, n));
      else if (!podmanReady && n === memoryPods[0]) memory.push({ tool: 'podman', skip: podman.skip ?? 'its set-up failed' });
    }

    log(`scale: ${scalePods} pods`);
    const library = await libraryScale(p, `${dir}/scale`, scalePods);
    const parallel = 4;
    const created = startCliPods(p, cliRoot, manifest, 'scale', scalePods, parallel);
    let ps: Record<string, Stats>;
    try {
      ps = interleave(
        { 'tspod ps': [process.execPath, p.cli, 'ps'], 'node -e 0': [process.execPath, '-e', '0'] },
        // As many rounds as the cycle: with 10, one slow phase of this VM moved the ratio by 0.3.
        iterations,
        benchEnv({ TSPOD_ROOT: cliRoot }),
      );
    } finally {
      await removeCliPods(cliRoot, created.names);
    }
    const scale: ScaleResult = { pods: scalePods, library, cli: { createPerSec: (scalePods / created.ms) * 1000, parallel }, ps };

    const probePods = quick ? 5 : 100;
    log(`probes: ${probePods} pods`);
    const probes = await probeCost(p, cliRoot, dir, probePods, quick ? 10 : 60);

    log('pause');
    const pause = await pauseSizes(p);

    const machine = {
      cpus: `${cpus().length} × ${cpus()[0]?.model.trim() ?? '?'}`,
      kernel: release(),
      node: process.version,
      date: new Date().toISOString(),
    };
    const partial = { machine, options: { quick, iterations, scalePods, memoryPods }, cycle, startup: start, memory, scale, probes, pause };
    const results: Results = { ...partial, targets: targets(partial) };
    const text = markdown(results);
    process.stdout.write(text);
    mkdirSync(outDir, { recursive: true });
    const stamp = machine.date.replace(/[:.]/g, '-');
    writeFileSync(`${outDir}/bench-${stamp}.json`, JSON.stringify(results, null, 2) + '\n');
    writeFileSync(`${outDir}/bench-${stamp}.md`, text);
    log(`written: ${outDir}/bench-${stamp}.{json,md}`);

    const failures =
      cycle.reduce((n, c) => n + (c.steps.total?.failures ?? 0), 0) +
      Object.values(start).reduce((n, s) => n + s.failures, 0) +
      library.failures;
    if (failures) log(`${failures} run(s) failed: see the messages above`);
    return failures ? 1 : 0;
  } finally {
    for (const tool of tools) {
      try {
        await tool.teardown?.();
      } catch (err) {
        log(`${tool.name}: tear-down: ${(err as Error).message}`);
      }
    }
    for (const root of [cliRoot, `${dir}/host`, `${dir}/scale`]) await tearDownRoot(root);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
