// The layers of src/, kept one-way: a folder imports only from the folders below it (and from
// itself), and no module imports itself back through others, type-only imports included, since
// a reader follows those too. docs/ARCHITECTURE.md draws the same picture.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import t from 'tap';

/** From the bottom up. A module at src/'s top level is named by its file. */
const LAYERS = [
  'errors.ts',
  'native',
  'pod',
  'fs',
  'cgroup',
  'logs',
  'image',
  'state',
  'net',
  'storage',
  'runtime',
  'supervisor',
  'monitor',
  'cli',
  'index.ts',
];

const srcDir = resolve(__dirname, '../../src');

/** Every relative module a file names: import/export ... from, require(), import(). */
export function importsOf(text: string): string[] {
  const found = new Set<string>();
  const re = /(?:\bfrom\s*|\brequire\s*\(\s*|\bimport\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g;
  for (const m of text.matchAll(re)) found.add(m[1]);
  return [...found];
}

/** The layer a module (a path relative to src/) is in. */
const layerOf = (module: string) => (module.includes('/') ? module.slice(0, module.indexOf('/')) : module);

/** file -> the src/ modules it imports, all paths relative to src/ and ending in .ts. */
export type ImportGraph = Map<string, string[]>;

export function upwardImports(graph: ImportGraph, layers: string[]): string[] {
  const problems: string[] = [];
  for (const [file, imports] of graph) {
    const rank = layers.indexOf(layerOf(file));
    if (rank < 0) {
      problems.push(`${file}: its layer (${layerOf(file)}) is not in the list`);
      continue;
    }
    for (const to of imports) {
      const toRank = layers.indexOf(layerOf(to));
      if (toRank > rank || (toRank === rank && layerOf(to) !== layerOf(file))) problems.push(`${file} imports ${to}, a layer above it`);
    }
  }
  return problems;
}

/** Each cycle of modules (a strongly connected component of more than one, or a self-import). */
export function cycles(graph: ImportGraph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

function srcGraph(): ImportGraph {
  const graph: ImportGraph = new Map();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.ts')) {
        const file = relative(srcDir, path);
        const imports = importsOf(readFileSync(path, 'utf8'))
          .map((spec) => relative(srcDir, resolve(dirname(path), spec)).replace(/\.js$/, '.ts'))
          // package.json (the CLI's version) is outside src/: no layer of its own.
          .filter((m) => !m.startsWith('..'));
        graph.set(file, imports);
      }
    }
  };
  walk(srcDir);
  return graph;
}

t.test('the checks themselves catch an upward import, an unknown layer and a cycle', async (t) => {
  t.same(
    importsOf(
      `import a from './a.js';\nexport { b } from "../x/b.js";\nconst c = require('./c.js') as typeof import('./c.js');\nimport 'node:fs';`,
    ),
    ['./a.js', '../x/b.js', './c.js'],
  );
  const graph: ImportGraph = new Map([
    ['pod/spec.ts', ['runtime/pod.ts']],
    ['runtime/pod.ts', ['pod/spec.ts', 'runtime/io.ts']],
    ['runtime/io.ts', ['runtime/pod.ts']],
    ['extra/x.ts', []],
  ]);
  t.same(upwardImports(graph, ['pod', 'runtime']), [
    'pod/spec.ts imports runtime/pod.ts, a layer above it',
    'extra/x.ts: its layer (extra) is not in the list',
  ]);
  t.same(cycles(graph), [['pod/spec.ts', 'runtime/io.ts', 'runtime/pod.ts']]);
  t.same(upwardImports(new Map([['net/a.ts', ['storage/b.ts']]]), ['net', 'storage']), ['net/a.ts imports storage/b.ts, a layer above it']);
  t.same(upwardImports(new Map([['storage/b.ts', ['net/a.ts']]]), ['net', 'storage']), []);
});

t.test('every import in src/ runs down the layers: ' + LAYERS.join(' < '), async (t) => {
  const graph = srcGraph();
  t.ok(graph.size > 50, `src/ was read (${graph.size} modules)`);
  t.same(upwardImports(graph, LAYERS), []);
});

t.test('no module of src/ imports itself back through others (type-only imports included)', async (t) => {
  t.same(cycles(srcGraph()), []);
});
