// Run by tap after the suite (package.json "tap.after"): anything a test left on the host fails
// the run, named one per line. Killed processes and freed namespaces take a moment to go (a
// veth goes with its namespace, asynchronously): the check is repeated for a few seconds first.
import { readFileSync, rmSync } from 'node:fs';
import { BASELINE, leftovers, type HostState } from './host.js';

async function main(): Promise<number> {
  let before: HostState;
  try {
    before = JSON.parse(readFileSync(BASELINE, 'utf8')) as HostState;
  } catch (err) {
    console.error(`leftover check: no baseline (${(err as Error).message}): was test/suite/before.ts run?`);
    return 1;
  }
  let left = leftovers(before);
  for (const deadline = Date.now() + 10_000; left.length && Date.now() < deadline; left = leftovers(before)) {
    await new Promise((r) => setTimeout(r, 200));
  }
  rmSync(BASELINE, { force: true });
  if (!left.length) return 0;
  console.error(`leftover check: the suite left ${left.length} thing(s) on the host:`);
  for (const l of left) console.error(`  ${l}`);
  return 1;
}

void main().then((code) => (process.exitCode = code));
