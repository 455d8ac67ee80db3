// What each command runs: a function of its module, which is required only when the command
// runs (each module costs start-up time; docs/PERFORMANCE.md). Commander's actions and the
// shortcuts (shortcuts.ts) both call these.

/** A command's function, taking what commander gives its action; its promise is the exit status. */
export type Handler<A extends unknown[]> = (...args: A) => Promise<number>;

export const handlers = {
  run: () => (require('./run.js') as typeof import('./run.js')).run,
  podCreate: () => (require('./pod.js') as typeof import('./pod.js')).podCreate,
  podCheck: () => (require('./pod.js') as typeof import('./pod.js')).podCheck,
  podList: () => (require('./pod.js') as typeof import('./pod.js')).podList,
  ps: () => (require('./ps.js') as typeof import('./ps.js')).ps,
  logs: () => (require('./logs.js') as typeof import('./logs.js')).logs,
  events: () => (require('./events.js') as typeof import('./events.js')).events,
  exec: () => (require('./exec.js') as typeof import('./exec.js')).exec,
  inspect: () => (require('./inspect.js') as typeof import('./inspect.js')).inspect,
  restart: () => (require('./control.js') as typeof import('./control.js')).restart,
  stop: () => (require('./control.js') as typeof import('./control.js')).stop,
  rm: () => (require('./control.js') as typeof import('./control.js')).rm,
  stats: () => (require('./stats.js') as typeof import('./stats.js')).stats,
  top: () => (require('./stats.js') as typeof import('./stats.js')).top,
  update: () => (require('./update.js') as typeof import('./update.js')).update,
  monitor: () => (require('./monitor.js') as typeof import('./monitor.js')).monitor,
  imageImport: () => (require('./image.js') as typeof import('./image.js')).imageImport,
  imageList: () => (require('./image.js') as typeof import('./image.js')).imageList,
  imageRemove: () => (require('./image.js') as typeof import('./image.js')).imageRemove,
  play: () => (require('./play.js') as typeof import('./play.js')).play,
  objectCreate: () => (require('./objects.js') as typeof import('./objects.js')).objectCreate,
  objectList: () => (require('./objects.js') as typeof import('./objects.js')).objectList,
  objectRemove: () => (require('./objects.js') as typeof import('./objects.js')).objectRemove,
} satisfies Record<string, () => (...args: never) => Promise<number>>;

/** Runs a command: `load` gives its function, called with `args` (checked against it). */
export type Invoke = <A extends unknown[]>(load: () => Handler<A>, ...args: A) => Promise<void>;
