// The bench's results as Markdown tables (printed, and written next to the JSON file).
import type { Stats } from './measure.js';
import type { MemoryRow, PauseRow, ProbeCost, ScaleResult } from './sections.js';

export interface CycleResult {
  tool: string;
  what: string;
  skip?: string;
  steps: Record<string, Stats>;
}

export interface Target {
  what: string;
  measured: string;
  limit: string;
  /** undefined: not measured in this run; null: a reference for the row above, no target. */
  met: boolean | undefined | null;
}

export interface Results {
  machine: Record<string, string | number>;
  options: Record<string, unknown>;
  cycle: CycleResult[];
  startup: Record<string, Stats>;
  memory: (MemoryRow | { tool: string; skip: string })[];
  scale?: ScaleResult;
  probes?: ProbeCost;
  pause: PauseRow[];
  targets: Target[];
}

const ms = (v: number) => (Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) : '-');
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : '-');
const kb = (v: number) => `${Math.round(v).toLocaleString('en-US')} kB`;

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function markdown(r: Results): string {
  const out: string[] = [];
  out.push(
    `Machine: ${Object.entries(r.machine)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}. Options: ${JSON.stringify(r.options)}.`,
  );

  const ran = r.cycle.filter((c) => !c.skip);
  const lib = ran.find((c) => c.tool === 'tspod library: Pod')?.steps.total?.median ?? NaN;
  const cli = ran.find((c) => c.tool === 'tspod CLI')?.steps.total?.median ?? NaN;
  out.push('\n### Pod cycle (infra + server + client joined, client succeeds, all removed), ms\n');
  out.push(
    table(
      ['tool', 'median', 'min', 'max', 'runs', 'failed', 'vs tspod library', 'vs tspod CLI'],
      ran.map((c) => {
        const t = c.steps.total;
        return [c.tool, ms(t.median), ms(t.min), ms(t.max), String(t.runs), String(t.failures), ratio(t.median, lib), ratio(t.median, cli)];
      }),
    ),
  );
  const steps = [...new Set(ran.flatMap((c) => Object.keys(c.steps).filter((s) => s !== 'total')))];
  out.push('\n### The same cycle by step (medians, ms; a tool reports the steps it can tell apart)\n');
  out.push(
    table(
      ['tool', ...steps],
      ran.map((c) => [c.tool, ...steps.map((s) => (c.steps[s] ? ms(c.steps[s].median) : ''))]),
    ),
  );
  out.push('\nTools:\n');
  for (const c of r.cycle) out.push(`- ${c.tool}: ${c.skip ? `skipped: ${c.skip}` : c.what}`);

  const node = r.startup['node -e 0']?.median ?? NaN;
  out.push('\n### Start-up, ms\n');
  out.push(
    table(
      ['command', 'median', 'min', 'max', 'runs', 'failed', 'vs node -e 0'],
      Object.entries(r.startup).map(([k, s]) => [
        k,
        ms(s.median),
        ms(s.min),
        ms(s.max),
        String(s.runs),
        String(s.failures),
        ratio(s.median, node),
      ]),
    ),
  );

  out.push('\n### Memory left running per pod (RSS / PSS; the workload itself not counted)\n');
  out.push(
    table(
      ['tool', 'pods', 'RSS per pod', 'PSS per pod', 'parts (total)'],
      r.memory.map((m) =>
        'skip' in m
          ? [m.tool, '-', '-', '-', `skipped: ${m.skip}`]
          : [
              m.tool,
              String(m.pods),
              kb(m.perPod.rssKb),
              kb(m.perPod.pssKb),
              Object.entries(m.parts)
                .map(([k, v]) => `${k}: ${kb(v.rssKb)} / ${kb(v.pssKb)}`)
                .join('; '),
            ],
      ),
    ),
  );

  if (r.scale) {
    const s = r.scale;
    out.push(`\n### Scale: ${s.pods} detached pods (one container each)\n`);
    out.push(
      table(
        ['what', 'result'],
        [
          [
            'library (PodHost): created',
            `${s.library.createPerSec.toFixed(0)} pods/s${s.library.failures ? ` (${s.library.failures} failed)` : ''}`,
          ],
          ['library (PodHost): removed', `${s.library.removePerSec.toFixed(0)} pods/s`],
          [`CLI: \`tspod run -d\`, ${s.cli.parallel} at a time`, `${s.cli.createPerSec.toFixed(1)} pods/s`],
          ...Object.entries(s.ps).map(([k, v]) => [
            `${k}, median of ${v.runs}`,
            `${ms(v.median)} ms (${ratio(v.median, s.ps['node -e 0']?.median ?? NaN)} node -e 0)`,
          ]),
        ],
      ),
    );
  }

  if (r.probes) {
    const pr = r.probes;
    out.push(`\n### Probes: the monitor's CPU with ${pr.pods} pods, over ${pr.seconds} s, as % of one CPU\n`);
    out.push(
      table(
        ['probes of each pod', 'the monitor', 'its children (exec probes)', 'together'],
        pr.rows.map((row) => [
          row.what,
          `${row.monitorPct.toFixed(2)}%`,
          `${row.childrenPct.toFixed(2)}%`,
          `${(row.monitorPct + row.childrenPct).toFixed(2)}%`,
        ]),
      ),
    );
  }

  out.push('\n### pause\n');
  out.push(
    table(
      ['arch', 'bytes', 'RSS as PID 1'],
      r.pause.map((p) => [
        p.arch,
        p.bytes.toLocaleString('en-US'),
        p.rssKb === undefined ? '- (cross-built: runs here only under qemu)' : kb(p.rssKb),
      ]),
    ),
  );

  out.push('\n### Targets\n');
  out.push(
    table(
      ['target', 'measured', 'limit', 'met'],
      r.targets.map((t) => [
        t.what,
        t.measured,
        t.limit,
        t.met === null ? '' : t.met === undefined ? 'not measured' : t.met ? 'yes' : '**no**',
      ]),
    ),
  );
  return out.join('\n') + '\n';
}
