// tspod monitor: the monitor in the foreground, for a service manager. The commands that change
// pods also start it in the background when none answers (monitor/launch.ts), and ps and pod ls
// when they see the running monitor's pods left without it (monitor-kick.ts).
import { statSync } from 'node:fs';
import { InputError } from '../errors.js';
import { startMonitor } from '../monitor/monitor.js';
import { loadBinding } from '../native/binding.js';
import { ServiceManager } from '../monitor/systemd.js';
import { StatePaths, stateRoot } from '../state/paths.js';
import { hostOptionsFromEnv } from './options.js';
import { requireRoot } from './root.js';

export async function monitor(o: { root?: string; manifests?: string }): Promise<number> {
  requireRoot('tspod monitor');
  if (o.manifests !== undefined && !statSync(o.manifests, { throwIfNoEntry: false })?.isDirectory()) {
    throw new InputError('--manifests', `${o.manifests} is not a directory`);
  }
  const { version } = require('../../package.json') as { version: string };
  const root = stateRoot(o.root);
  const binding = loadBinding();
  const manager = ServiceManager.fromEnv(binding);
  // Run by a service manager (systemd's Type=notify), in a cgroup it delegated: the pods' cgroups
  // go there. A monitor the commands start in the background is no service: /tspod.
  const options = hostOptionsFromEnv(process.env, { binding, stateRoot: root, service: manager !== undefined });
  const running = await startMonitor({ root, version, ...options, ...(o.manifests !== undefined ? { manifests: o.manifests } : {}) });
  const tell = (state: Record<string, string | number>) => {
    try {
      manager?.notify(state);
    } catch (err) {
      process.stderr.write(`${new Date().toISOString()} telling the service manager ${Object.keys(state)[0]}: ${(err as Error).message}\n`);
    }
  };
  tell({ READY: 1, MAINPID: process.pid, STATUS: `serving ${new StatePaths(root).socket}` });
  await new Promise<void>((resolve) => {
    for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => resolve());
  });
  tell({ STOPPING: 1 });
  await running.close();
  return 0;
}
