// Foreground output: every line a pod process writes is shown on tspod's own stdout or stderr,
// prefixed with the container's name (the infra's as "infra"). The processes write into
// pipes (runtime/io.ts), never into tspod's stdio: Node may have made those non-blocking.
import { StringDecoder } from 'node:string_decoder';
import type { LogStream } from '../logs/cri.js';
import type { OutputTee } from '../runtime/io.js';

export class TerminalTee implements OutputTee {
  private readonly width: number;
  /** Per process stream: a decoder (a character may span chunks) and the unfinished line. */
  private readonly open = new Map<string, { decoder: StringDecoder; partial: string }>();

  /** Streams whose reader went away (tspod run | head): the pod goes on, unseen. */
  private readonly gone = new Set<LogStream>();

  constructor(names: string[]) {
    this.width = Math.max(5, ...names.map((n) => n.length));
    for (const stream of ['stdout', 'stderr'] as const) {
      this.dest(stream).on('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EPIPE') throw err;
        this.gone.add(stream);
      });
    }
  }

  data(who: string | null, stream: LogStream, chunk: Buffer): void {
    const key = `${who ?? ''}\0${stream}`;
    let state = this.open.get(key);
    if (!state) this.open.set(key, (state = { decoder: new StringDecoder('utf8'), partial: '' }));
    const lines = (state.partial + state.decoder.write(chunk)).split('\n');
    state.partial = lines.pop()!;
    if (lines.length && !this.gone.has(stream)) this.dest(stream).write(lines.map((l) => this.label(who) + l + '\n').join(''));
  }

  end(who: string | null, stream: LogStream): void {
    const key = `${who ?? ''}\0${stream}`;
    const state = this.open.get(key);
    this.open.delete(key);
    const rest = state ? state.partial + state.decoder.end() : '';
    if (rest && !this.gone.has(stream)) this.dest(stream).write(this.label(who) + rest + '\n');
  }

  private label(who: string | null): string {
    return `${(who ?? 'infra').padEnd(this.width)} | `;
  }

  private dest(stream: LogStream): NodeJS.WriteStream {
    return stream === 'stdout' ? process.stdout : process.stderr;
  }
}
