// Static pods, as the kubelet's staticPodPath: `tspod monitor --manifests DIR` runs a pod for every
// manifest file in DIR. A new file starts its pod, a changed file replaces it, a removed file
// removes it; a file that does not parse is reported in the monitor's log, and its pod, if one
// runs, is left as it is. Each pod carries where it came from in the kubelet's annotations
// (kubernetes.io/config.source: file, kubernetes.io/config.hash) and tspod's tspod.io/static-file,
// so a monitor started again (after kill -9, or at boot with a fresh state) makes the directory's
// pods what runs, none twice. The directory is read again on every change inotify reports, and
// every 20 s (the kubelet's fileCheckFrequency) in case a change was missed.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync, statSync, watch, type FSWatcher } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { podFromManifestText } from '../pod/manifest.js';
import { workingDirDefault, type PodSpec } from '../pod/spec.js';
import type { PodHost } from '../supervisor/host.js';

export const SOURCE_ANNOTATION = 'kubernetes.io/config.source';
export const HASH_ANNOTATION = 'kubernetes.io/config.hash';
export const FILE_ANNOTATION = 'tspod.io/static-file';

/** The kubelet's fileCheckFrequency. */
const RESCAN_MS = 20_000;
/** Changes come in bursts (an editor writes, renames, chmods): read the directory once after them. */
const SETTLE_MS = 100;

/** A manifest file's name, as the kubelet takes them: not hidden, YAML or JSON. */
const MANIFEST_FILE = /^[^.].*\.(ya?ml|json)$/;

interface Wanted {
  file: string;
  hash: string;
  spec: PodSpec;
  /** What reading it had to say: logged when its pod is created. */
  warnings: string[];
}

export class StaticPods {
  private readonly dir: string;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private settle: NodeJS.Timeout | undefined;
  /** The sync running now, and whether another was asked for meanwhile. */
  private running: Promise<void> | undefined;
  private again = false;
  /** What was last said of each bad file, said once, not at every read: it does not parse; its pod cannot be made. */
  private readonly unread = new Map<string, string>();
  private readonly unmade = new Map<string, string>();
  private closed = false;

  constructor(
    private readonly host: PodHost,
    dir: string,
    private readonly log: (message: string) => void,
  ) {
    // Its real path: the files' pods are told apart by it (tspod.io/static-file).
    this.dir = realpathSync(resolve(dir));
  }

  /** Reads the directory now (the pods it asks for are created before this resolves), then keeps watching it. */
  async start(): Promise<void> {
    await this.sync();
    try {
      this.watcher = watch(this.dir, () => this.soon());
      this.watcher.on('error', (err) => this.log(`static pods: watching ${this.dir}: ${err.message}`));
    } catch (err) {
      this.log(`static pods: cannot watch ${this.dir} (${(err as Error).message}); read every ${RESCAN_MS / 1000} s`);
    }
    this.timer = setInterval(() => void this.sync(), RESCAN_MS);
  }

  /** Stops watching; resolves once a read under way has finished (it makes or removes no more pods). */
  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    clearInterval(this.timer);
    clearTimeout(this.settle);
    await this.running;
  }

  private soon(): void {
    clearTimeout(this.settle);
    this.settle = setTimeout(() => void this.sync(), SETTLE_MS);
  }

  /** One pass at a time: a change seen during one is read by the next. */
  sync(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass().catch((err: Error) => this.log(`static pods: ${err.message}`));
      } while (this.again && !this.closed);
      this.running = undefined;
    })();
    return this.running;
  }

  private async pass(): Promise<void> {
    const { wanted, bad } = await this.read();
    // Pods of this directory that run now, by name.
    const have = new Map(
      this.host
        .list()
        .filter((r) => r.spec.annotations[SOURCE_ANNOTATION] === 'file' && dirname(r.spec.annotations[FILE_ANNOTATION] ?? '') === this.dir)
        .map((r) => [r.name, r.spec.annotations] as const),
    );
    for (const [name, annotations] of have) {
      const file = annotations[FILE_ANNOTATION];
      if (bad.has(file)) continue;
      const want = wanted.get(name);
      if (want && want.file === file && want.hash === annotations[HASH_ANNOTATION]) continue;
      if (this.closed) return;
      this.log(`static pods: ${file} ${want?.file === file ? 'changed' : 'is gone'}: removing pod ${name}`);
      await this.host.remove(name, true).catch((err: Error) => this.log(`static pods: removing pod ${name}: ${err.message}`));
      have.delete(name);
    }
    for (const [name, want] of wanted) {
      if (have.has(name) || this.closed) continue;
      try {
        await this.host.create(want.spec);
        this.unmade.delete(want.file);
        this.log(`static pods: ${want.file}: pod ${name} created`);
        for (const w of want.warnings) this.log(`static pods: warning: ${w}`);
      } catch (err) {
        this.report(this.unmade, want.file, `pod ${name} not created: ${(err as Error).message}`);
      }
    }
  }

  /** The directory's manifests, checked; a file that fails is reported once and set aside. */
  private async read(): Promise<{ wanted: Map<string, Wanted>; bad: Set<string> }> {
    const wanted = new Map<string, Wanted>();
    const bad = new Set<string>();
    let names: string[];
    try {
      names = readdirSync(this.dir)
        .filter((n) => MANIFEST_FILE.test(n))
        .sort();
    } catch (err) {
      throw new Error(`cannot read ${this.dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    for (const n of names) {
      const file = join(this.dir, n);
      try {
        if (!statSync(file).isFile()) continue;
        const text = readFileSync(file, 'utf8');
        const warnings: string[] = [];
        const spec = await podFromManifestText(text, file, (line) => warnings.push(line));
        const other = wanted.get(spec.name);
        if (other) throw new Error(`${file}: pod "${spec.name}" is ${other.file}'s already`);
        const hash = createHash('sha256').update(text).digest('hex').slice(0, 32);
        spec.annotations = { ...spec.annotations, [SOURCE_ANNOTATION]: 'file', [HASH_ANNOTATION]: hash, [FILE_ANNOTATION]: file };
        workingDirDefault(spec, '/');
        wanted.set(spec.name, { file, hash, spec, warnings });
        this.unread.delete(file);
      } catch (err) {
        bad.add(file);
        this.report(this.unread, file, (err as Error).message);
      }
    }
    return { wanted, bad };
  }

  private report(said: Map<string, string>, file: string, message: string): void {
    if (said.get(file) === message) return;
    said.set(file, message);
    this.log(`static pods: ${message.startsWith(file) ? message : `${file}: ${message}`}`);
  }
}
