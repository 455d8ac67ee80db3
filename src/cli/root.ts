// Commands run as root: the state directory, namespaces and image layers are root's. Each
// command says what it needs root for.
import { TspodError } from '../errors.js';

/** Why the commands that only read need root too. */
export const READ_WHY = 'the state directory is readable by root only';

/** Commands need root; `why` says what for. */
export function requireRoot(what: string, why = 'it creates network, IPC, UTS and PID namespaces and joins them (CAP_SYS_ADMIN)'): void {
  if (process.geteuid?.() !== 0) throw new TspodError(`${what} needs root: ${why}; run it with sudo`);
}
