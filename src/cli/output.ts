// Foreground output: each container's stdout and stderr arrive on pipes of their own and are
// shown line by line, prefixed with the container's name (the infra's stderr as "infra").
// Workloads never write to tspod's own stdout: Node may have made it non-blocking.
import { closeSync, openSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import type { NativeBinding } from '../native/binding.js';
import type { PodIO, ProcessIO } from '../runtime/pod.js';

/** How long output may still arrive after the pod ended (an orphan could hold a pipe). */
const DRAIN_MS = 1000;

export class PrefixedOutput implements PodIO {
  private readonly binding: NativeBinding;
  private readonly width: number;
  private readonly devNull: number;
  private readonly readers: Promise<void>[] = [];
  private readonly sockets: Socket[] = [];

  constructor(binding: NativeBinding, names: string[]) {
    this.binding = binding;
    this.width = Math.max(5, ...names.map((n) => n.length));
    this.devNull = openSync('/dev/null', 'r+');
  }

  open(who: string | null): ProcessIO {
    const label = `${(who ?? 'infra').padEnd(this.width)} | `;
    const err = this.pipeTo(label, process.stderr);
    if (who === null) {
      return { stdio: [this.devNull, this.devNull, err], release: () => closeSync(err) };
    }
    const out = this.pipeTo(label, process.stdout);
    return {
      stdio: [this.devNull, out, err],
      release: () => {
        closeSync(out);
        closeSync(err);
      },
    };
  }

  /** Returns the write end of a pipe whose lines go to `dest`, prefixed. */
  private pipeTo(label: string, dest: Writable): number {
    const [readEnd, writeEnd] = this.binding.pipe();
    const socket = new Socket({ fd: readEnd, readable: true, writable: false });
    let partial = '';
    this.sockets.push(socket);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      if (lines.length) dest.write(lines.map((l) => label + l + '\n').join(''));
    });
    this.readers.push(
      new Promise((resolve) =>
        socket.once('close', () => {
          if (partial) dest.write(label + partial + '\n');
          resolve();
        }),
      ),
    );
    return writeEnd;
  }

  async close(): Promise<void> {
    const drained = Promise.all(this.readers);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise((r) => (timer = setTimeout(r, DRAIN_MS)))]);
    clearTimeout(timer);
    for (const s of this.sockets) s.destroy();
    closeSync(this.devNull);
  }
}
