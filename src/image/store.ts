// tspod's local image store: images imported from files, never pulled. Each layer is unpacked
// once, keyed by its diff_id (the digest of the uncompressed tar), into a directory overlayfs
// can stack as a lower layer; each NAME:TAG is a JSON record that lists its layers.
//
//   ROOT/                       0700, root (/var/lib/tspod/images; --image-root, $TSPOD_IMAGE_ROOT)
//     lock                      flock'ed by whoever changes the store (import, rm, gc)
//     layers/HEX/fs/            the unpacked layer: whiteouts as 0:0 devices, opaque xattrs
//     layers/HEX/layer.json     its diff_id and size; written before the rename that publishes it
//     layers/.tmp-*, .rm-*      a layer being unpacked / removed: never a name a reader uses
//     images/NAME%3ATAG.json    one record per name (every byte outside [a-z0-9._-] as %XX)
//     tmp/                      a gzipped archive, gunzipped for reading by offset
//
// A layer appears under its final name only complete (rename), and a record is replaced by
// rename, so a crash leaves at worst a .tmp-* that the next import or rm removes. An import
// writes its records only once every image of the file is unpacked, all of them together.
import {
  closeSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
  chmodSync,
  createReadStream,
  createWriteStream,
} from 'node:fs';
import { randomBytes, createHash, type Hash } from 'node:crypto';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { InputError, TspodError } from '../errors.js';
import type { NativeBinding } from '../native/binding.js';
import {
  formatPlatform,
  hostPlatform,
  readImages,
  verifyLayer,
  type ImageConfig,
  type ImagePlan,
  type LayerPlan,
  type Platform,
} from './formats.js';
import { formatRef, parseImageRef, type ImageRef } from '../pod/image-ref.js';
import { idPrefix, refFileName, shortId } from './reference.js';
import { DirSource, TarSource, sniffCompression, type Compression, type ImageSource } from './source.js';
import { looksLikeTar } from './tar.js';
import { DEFAULT_IMPORT_LIMITS, ImportBudget, type ImportLimits } from './budget.js';
import { LayerError, unpackLayer, type UnpackStats } from './unpack.js';
import { readRecordFile, shapes as s } from '../fs/files.js';
import { withLock } from '../fs/lock.js';

export const DEFAULT_IMAGE_ROOT = '/var/lib/tspod/images';
const IMAGE_RECORD_VERSION = 1;

/** The image store's root: --image-root, else $TSPOD_IMAGE_ROOT, else /var/lib/tspod/images. */
export function imageRoot(option?: string): string {
  return resolve(option ?? (process.env.TSPOD_IMAGE_ROOT || DEFAULT_IMAGE_ROOT));
}

/** What the store needs of the addon. */
export type ImageBinding = Pick<NativeBinding, 'mknod' | 'lsetxattr' | 'flock' | 'openBeneath' | 'constants'>;

export interface ImageStoreOptions {
  /**
   * Layer directories (as resolve() gave them) that containers are using now. The store keeps
   * them even when no image refers to them any more; a later rm or gc removes them once they
   * are no longer listed. Without it, the runtime must not let rm run while a container uses
   * an image's layers.
   */
  layersInUse?: () => Iterable<string>;
  /** How long a change waits for the store's lock (default STORE_LOCK_TIMEOUT_MS). */
  lockTimeoutMs?: number;
  /** What an import may write (default DEFAULT_IMPORT_LIMITS). */
  limits?: ImportLimits;
  /** A damaged image record that a listing left out, and why (default: nothing is said). */
  onBadRecord?: (file: string, problem: string) => void;
}

/** What the store reads of an image record, checked as it is read (see readRecordFile). */
const imageShape = s.object({
  name: s.string,
  tag: s.string,
  id: s.string,
  format: s.string,
  platform: s.object({ os: s.string, architecture: s.string }),
  importedAt: s.string,
  source: s.string,
  layers: s.list(s.string),
  size: s.count,
  config: s.object(),
});

/** An import holds the lock while its image unpacks: minutes for a large one, never hours. */
export const STORE_LOCK_TIMEOUT_MS = 10 * 60_000;

/** images/NAME%3ATAG.json */
export interface ImageRecord {
  version: number;
  name: string;
  tag: string;
  /** The config's digest, "sha256:..." */
  id: string;
  manifestDigest?: string;
  format: ImagePlan['format'];
  platform: Platform;
  /** From the config, when it says. */
  created?: string;
  importedAt: string;
  /** The file it was imported from. */
  source: string;
  /** diff_ids, bottom layer first. */
  layers: string[];
  /** Bytes of file data in its layers (shared layers counted for each image). */
  size: number;
  config: ImageConfig;
}

/** layers/HEX/layer.json */
export interface LayerRecord {
  diffId: string;
  size: number;
  entries: number;
  whiteouts: number;
  opaqueDirs: number;
  unpackedAt: string;
}

/** What a container runs on: resolve()'s answer. */
export interface ResolvedImage {
  /** The config digest. */
  id: string;
  /** NAME:TAG as stored. */
  name: string;
  /** The unpacked layer directories, bottom layer first (overlayfs wants them reversed in lowerdir). */
  layers: string[];
  diffIds: string[];
  config: ImageConfig;
  platform: Platform;
}

export interface ImportOptions {
  /** NAME[:TAG] instead of the file's own name(s). */
  name?: string;
  /** Default: this host's. */
  platform?: Platform;
  /** A line of progress (a layer unpacked or found). */
  log?: (line: string) => void;
}

export interface ImportedImage {
  names: string[];
  id: string;
  platform: string;
  layers: { diffId: string; dir: string; unpacked: boolean; size: number }[];
}

export interface RemoveResult {
  untagged: string[];
  /** diff_ids of the layers removed with it. */
  deletedLayers: string[];
}

const DIFF_ID = /^sha256:([0-9a-f]{64})$/;
const LAYER_DIR = /^[0-9a-f]{64}$/;

async function* hashed(input: AsyncIterable<Buffer>, hash: Hash): AsyncGenerator<Buffer> {
  for await (const chunk of input) {
    hash.update(chunk);
    yield chunk;
  }
}

export class ImageStore {
  readonly layersDir: string;
  readonly imagesDir: string;
  readonly tmpDir: string;
  readonly lockFile: string;

  constructor(
    readonly root: string,
    private readonly binding: ImageBinding,
    private readonly options: ImageStoreOptions = {},
  ) {
    this.layersDir = `${root}/layers`;
    this.imagesDir = `${root}/images`;
    this.tmpDir = `${root}/tmp`;
    this.lockFile = `${root}/lock`;
  }

  /** The directory a layer is unpacked in; its diff_id is checked before it becomes a path. */
  layerDir(diffId: string): string {
    const m = DIFF_ID.exec(diffId);
    if (!m) throw new TspodError(`"${diffId}" is not a layer diff_id (sha256:<64 hex digits>)`);
    return `${this.layersDir}/${m[1]}/fs`;
  }

  /** A layer is complete when its directory has its name: layer.json is written before that rename. */
  hasLayer(diffId: string): boolean {
    this.layerDir(diffId); // checks the diff_id
    return existsSync(`${this.layersDir}/${diffId.slice(7)}/layer.json`);
  }

  layerRecord(diffId: string): LayerRecord | undefined {
    this.layerDir(diffId);
    try {
      return JSON.parse(readFileSync(`${this.layersDir}/${diffId.slice(7)}/layer.json`, 'utf8')) as LayerRecord;
    } catch {
      return undefined;
    }
  }

  /** Creates the store's directories (0700); refuses a root that is not a directory of ours. */
  ensureRoot(): void {
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    for (const dir of [this.root, this.layersDir, this.imagesDir, this.tmpDir]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const st = lstatSync(dir);
      if (!st.isDirectory() || st.uid !== process.geteuid?.()) {
        throw new TspodError(`image store directory ${dir} is not a directory owned by this user: refusing to use it`);
      }
      if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
    }
  }

  /**
   * Runs `fn` holding the store's lock (flock on ROOT/lock). It is polled rather than waited
   * for, so the event loop never blocks and two stores in one process cannot deadlock.
   */
  private async withLock<T>(fn: () => Promise<T>): Promise<T> {
    this.ensureRoot();
    return withLock(this.binding, this.lockFile, fn, this.options.lockTimeoutMs ?? STORE_LOCK_TIMEOUT_MS);
  }

  // ---- records

  private recordPath(ref: ImageRef): string {
    return `${this.imagesDir}/${refFileName(ref)}`;
  }

  private readRecord(file: string): ImageRecord | undefined {
    return readRecordFile<ImageRecord>(file, IMAGE_RECORD_VERSION, 'image record', (r) => imageShape(r, ''));
  }

  private tmpRecordPath(): string {
    return `${this.imagesDir}/.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  }

  /**
   * Writes `records` as one change, holding the lock: all are written under temporary names
   * first, then renamed into place, each record they replace kept (hard-linked) until all are.
   * On an error every name is put back as it was.
   */
  private writeRecords(records: ImageRecord[]): void {
    const staged: { file: string; tmp: string; old?: string; placed?: boolean }[] = [];
    try {
      for (const record of records) {
        const tmp = this.tmpRecordPath();
        staged.push({ file: this.recordPath(record), tmp });
        writeFileSync(tmp, JSON.stringify(record, null, 1) + '\n', { mode: 0o600 });
      }
      for (const w of staged) {
        const old = this.tmpRecordPath();
        try {
          linkSync(w.file, old);
          w.old = old;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
        renameSync(w.tmp, w.file);
        w.placed = true;
      }
    } catch (err) {
      // Last placed first: a name given twice in the file gets back its first old record.
      for (const w of [...staged].reverse()) {
        try {
          if (w.placed && w.old) renameSync(w.old, w.file);
          else if (w.placed) unlinkSync(w.file);
        } catch {
          // the import's own error is the one to see; the next change removes the .tmp-* left
        }
      }
      for (const w of staged) for (const f of [w.tmp, w.old]) if (f) rmSync(f, { force: true });
      throw err;
    }
    for (const w of staged) if (w.old) rmSync(w.old, { force: true });
  }

  /**
   * Every image record, by name and tag. A damaged one is told to `onBad` and left out (the
   * store's own users pass the store's option of that name).
   */
  list(onBad = this.options.onBadRecord ?? (() => {})): ImageRecord[] {
    let files: string[];
    try {
      files = readdirSync(this.imagesDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return files
      .filter((f) => !f.startsWith('.') && f.endsWith('.json'))
      .flatMap((f) => {
        try {
          return this.readRecord(`${this.imagesDir}/${f}`) ?? [];
        } catch (err) {
          if (!(err instanceof TspodError)) throw err;
          onBad(f, err.message);
          return [];
        }
      })
      .sort((a, b) => formatRef(a).localeCompare(formatRef(b)));
  }

  /**
   * The records `ref` names: NAME[:TAG] (one), else an image id or a prefix of one, at least
   * 12 hex digits (every name of that image). Empty when there is none.
   */
  find(ref: string): ImageRecord[] {
    let parsed: ImageRef | undefined;
    try {
      parsed = parseImageRef(ref);
    } catch (err) {
      if (!idPrefix(ref)) throw err;
    }
    if (parsed) {
      const record = this.readRecord(this.recordPath(parsed));
      if (record) return [record];
    }
    const prefix = idPrefix(ref);
    if (!prefix) return [];
    const matches = this.list().filter((r) => r.id.startsWith(prefix));
    const ids = new Set(matches.map((r) => r.id));
    if (ids.size > 1) throw new InputError('image', `"${ref}" is the prefix of ${ids.size} image ids: give more of it`);
    return matches;
  }

  private notFound(ref: string): TspodError {
    return new TspodError(
      `image "${ref}" is not in the local image store (${this.root}); tspod never pulls from a registry: ` +
        'import it from a file with tspod image import FILE (an OCI image layout, directory or tar, or a docker save tarball)',
    );
  }

  /** The image a container with `image: REF` runs on. Throws, naming the fix, when it is not here. */
  resolve(ref: string): ResolvedImage {
    const [record] = this.find(ref);
    if (!record) throw this.notFound(ref);
    const layers = record.layers.map((d) => {
      if (!this.hasLayer(d)) {
        throw new TspodError(
          `image ${formatRef(record)} is damaged: its layer ${d} is not in the store (${this.layerDir(d)}); import it again`,
        );
      }
      return this.layerDir(d);
    });
    return {
      id: record.id,
      name: formatRef(record),
      layers,
      diffIds: [...record.layers],
      config: record.config,
      platform: record.platform,
    };
  }

  // ---- import

  /** Opens a directory, a tar, or a gzipped tar (gunzipped into tmp/ first: it is read by offset). */
  private async openSource(file: string, label: string, temps: string[], budget: ImportBudget): Promise<ImageSource> {
    if (statSync(file).isDirectory()) return new DirSource(file, this.binding);
    const head = Buffer.alloc(512);
    const fd = openSync(file, 'r');
    let n: number;
    try {
      n = readSync(fd, head, 0, 512, 0);
    } finally {
      closeSync(fd);
    }
    let tarFile = file;
    if (sniffCompression(head.subarray(0, n), label) === 'gzip') {
      tarFile = `${this.tmpDir}/import-${process.pid}-${randomBytes(4).toString('hex')}.tar`;
      temps.push(tarFile);
      try {
        await pipeline(createReadStream(file), createGunzip(), budget.counter(label), createWriteStream(tarFile, { mode: 0o600 }));
      } catch (err) {
        if (err instanceof TspodError) throw err;
        throw new TspodError(`${label}: not a readable gzip file: ${(err as Error).message}`);
      }
      const fd2 = openSync(tarFile, 'r');
      try {
        n = readSync(fd2, head, 0, 512, 0);
      } finally {
        closeSync(fd2);
      }
    }
    if (!looksLikeTar(head.subarray(0, n))) {
      throw new TspodError(
        `${label}: not a tar archive (an image file is an OCI image layout, as a directory or a tar, or a docker save tarball)`,
      );
    }
    try {
      return new TarSource(tarFile, label);
    } catch (err) {
      throw new TspodError(`${label}: ${(err as Error).message}`);
    }
  }

  /** The compression of a layer, from its bytes, checked against what its media type promised. */
  private layerCompression(source: ImageSource, layer: LayerPlan): Compression {
    const actual = sniffCompression(source.head(layer.path, 6), `${source.label}: ${layer.label}`);
    if (layer.compression !== undefined && actual !== layer.compression) {
      throw new TspodError(
        `${source.label}: ${layer.label}: its media type ${layer.mediaType} says ${layer.compression === 'gzip' ? 'gzip' : 'plain tar'}, ` +
          `its content is ${actual === 'gzip' ? 'gzip' : 'not gzip'}`,
      );
    }
    return actual;
  }

  /** Unpacks one layer into layers/.tmp-*, checks its diff_id, and renames it into place. */
  private async unpack(source: ImageSource, layer: LayerPlan, compression: Compression, budget: ImportBudget): Promise<LayerRecord> {
    const hex = DIFF_ID.exec(layer.diffId)![1];
    const tmp = `${this.layersDir}/.tmp-${hex.slice(0, 12)}-${randomBytes(4).toString('hex')}`;
    mkdirSync(tmp, 0o700);
    try {
      mkdirSync(`${tmp}/fs`, 0o755);
      const hash = createHash('sha256');
      let stats: UnpackStats | undefined;
      // When the unpacker stops early, pipeline may report the source's abort instead of why.
      let failure: unknown;
      const consume = async (input: AsyncIterable<Buffer>) => {
        try {
          stats = await unpackLayer(hashed(input, hash), `${tmp}/fs`, this.binding);
        } catch (err) {
          failure = err;
          throw err;
        }
      };
      try {
        const counter = budget.counter(`${source.label}: ${layer.label}`);
        if (compression === 'gzip') await pipeline(source.open(layer.path), createGunzip(), counter, consume);
        else await pipeline(source.open(layer.path), counter, consume);
      } catch (caught) {
        const err = failure ?? caught;
        if (err instanceof LayerError) throw new TspodError(`${source.label}: ${layer.label}: ${err.message}`);
        if (err instanceof TspodError) throw err;
        if ((err as NodeJS.ErrnoException).code?.startsWith('Z_'))
          throw new TspodError(`${source.label}: ${layer.label} is corrupted: ${(err as Error).message}`);
        throw err;
      }
      const diffId = `sha256:${hash.digest('hex')}`;
      if (diffId !== layer.diffId) {
        throw new TspodError(
          `${source.label}: ${layer.label} is corrupted: its content has digest ${diffId}, its config says diff_id ${layer.diffId}`,
        );
      }
      const record: LayerRecord = { diffId, ...stats!, unpackedAt: new Date().toISOString() };
      writeFileSync(`${tmp}/layer.json`, JSON.stringify(record, null, 1) + '\n', { mode: 0o600 });
      renameSync(tmp, `${this.layersDir}/${hex}`);
      return record;
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Imports the images of an OCI layout (directory or tar) or a docker save tarball, for this
   * host's platform. Every blob is checked against its digest before anything is unpacked;
   * a layer already in the store is not unpacked again. The records (names) are written only
   * once every image is unpacked, all together. On any error the store is left as it was: no
   * name changed, and the layers this import unpacked are removed.
   */
  async import(file: string, o: ImportOptions = {}): Promise<ImportedImage[]> {
    const path = resolve(file);
    if (!existsSync(path)) throw new TspodError(`${file}: no such file or directory`);
    const rename = o.name === undefined ? undefined : parseImageRef(o.name, '--name');
    const want = o.platform ?? hostPlatform();
    const log = o.log ?? (() => {});
    return this.withLock(async () => {
      this.removeLeftovers();
      const temps: string[] = [];
      /** Hex of the layers this import unpacked: on an error, they go. */
      const unpacked: string[] = [];
      /** Temporary files go, then layers that no image uses (those of an image a new one took
       *  the name of). */
      const cleanUp = () => {
        for (const t of temps) rmSync(t, { force: true });
        // When what is in use cannot be told (a damaged pod record), nothing is collected now.
        let inUse: Set<string> | undefined;
        try {
          inUse = this.layersInUse();
        } catch {
          this.removeLeftovers();
        }
        if (inUse) this.collect(inUse);
      };
      const imported: ImportedImage[] = [];
      try {
        const budget = new ImportBudget(this.options.limits ?? DEFAULT_IMPORT_LIMITS, this.root);
        const source = await this.openSource(path, file, temps, budget);
        const plans = await readImages(source, want);
        if (rename && plans.length > 1) {
          throw new InputError('--name', `${file} holds ${plans.length} images for ${formatPlatform(want)}: --name can name only one`);
        }
        const named = plans.map((plan) => {
          const names = rename ? [rename] : plan.names;
          if (!names.length) {
            throw new TspodError(
              `${file}: image ${shortId(plan.id)} has no name in the file (no ref.name annotation or RepoTags): ` +
                'give it one with --name NAME[:TAG]',
            );
          }
          return { plan, names };
        });
        // Every blob is checked before anything is unpacked.
        const compression = new Map<LayerPlan, Compression>();
        for (const { plan } of named) {
          for (const layer of plan.layers) {
            compression.set(layer, this.layerCompression(source, layer));
            await verifyLayer(source, layer, compression.get(layer)!, budget.ceiling(`${source.label}: ${layer.label}`));
          }
        }
        const records: ImageRecord[] = [];
        for (const { plan, names } of named) {
          const layers: ImportedImage['layers'] = [];
          for (const layer of plan.layers) {
            const dir = this.layerDir(layer.diffId);
            const present = this.hasLayer(layer.diffId);
            const rec = present ? this.layerRecord(layer.diffId) : await this.unpack(source, layer, compression.get(layer)!, budget);
            if (!present) unpacked.push(layer.diffId.slice(7));
            log(present ? `layer ${shortId(layer.diffId)}: already in the store` : `layer ${shortId(layer.diffId)}: unpacked`);
            layers.push({ diffId: layer.diffId, dir, unpacked: !present, size: rec?.size ?? 0 });
          }
          const now = new Date().toISOString();
          for (const ref of names) {
            const record: ImageRecord = {
              version: IMAGE_RECORD_VERSION,
              name: ref.name,
              tag: ref.tag,
              id: plan.id,
              format: plan.format,
              platform: plan.platform,
              importedAt: now,
              source: path,
              layers: plan.layers.map((l) => l.diffId),
              size: layers.reduce((sum, l) => sum + l.size, 0),
              config: plan.config,
            };
            if (plan.manifestDigest) record.manifestDigest = plan.manifestDigest;
            if (plan.created) record.created = plan.created;
            records.push(record);
          }
          imported.push({ names: names.map(formatRef), id: plan.id, platform: formatPlatform(plan.platform), layers });
        }
        // Every image is unpacked: only now does any name change, all of them together.
        this.writeRecords(records);
      } catch (err) {
        try {
          for (const t of temps) rmSync(t, { force: true });
          this.removeUnpacked(unpacked);
        } catch {
          // the import's own error is the one to see
        }
        throw err;
      }
      cleanUp();
      return imported;
    });
  }

  // ---- removal

  /** Removes one name (or, by id, the image's only name) and the layers no other image uses. */
  async remove(ref: string): Promise<RemoveResult> {
    return this.withLock(async () => {
      const records = this.find(ref);
      if (!records.length) throw new TspodError(`image "${ref}" is not in the local image store (${this.root})`);
      if (records.length > 1) {
        throw new InputError(
          'image',
          `${shortId(records[0].id)} has ${records.length} names (${records.map(formatRef).join(', ')}): remove them by name`,
        );
      }
      // Before anything changes: a pod whose record cannot be read stops the removal here.
      const inUse = this.layersInUse();
      unlinkSync(this.recordPath(records[0]));
      return { untagged: records.map(formatRef), deletedLayers: this.collect(inUse) };
    });
  }

  /** Removes layers no image refers to (and none in use), and leftovers of interrupted work. */
  async gc(): Promise<string[]> {
    return this.withLock(async () => this.collect(this.layersInUse()));
  }

  /** Leftovers of a crashed import or removal: only safe to remove holding the lock. */
  private removeLeftovers(): void {
    for (const name of readdirSync(this.layersDir)) {
      if (name.startsWith('.tmp-') || name.startsWith('.rm-')) rmSync(`${this.layersDir}/${name}`, { recursive: true, force: true });
    }
    for (const name of readdirSync(this.imagesDir)) if (name.startsWith('.tmp-')) rmSync(`${this.imagesDir}/${name}`, { force: true });
    for (const name of readdirSync(this.tmpDir)) rmSync(`${this.tmpDir}/${name}`, { recursive: true, force: true });
  }

  /** The layers (hex of their diff_ids) that containers use now (ImageStoreOptions.layersInUse). */
  private layersInUse(): Set<string> {
    const inUse = new Set<string>();
    for (const dir of this.options.layersInUse?.() ?? []) {
      const m = /([0-9a-f]{64})(?:\/fs)?\/?$/.exec(dir);
      if (m) inUse.add(m[1]);
    }
    return inUse;
  }

  /** The layers (hex of their diff_ids) that some image record lists. */
  private referencedLayers(): Set<string> {
    return new Set(this.list().flatMap((r) => r.layers.map((d) => d.slice(7))));
  }

  /** Holding the lock: removes the layer `hex`. */
  private removeLayer(hex: string): void {
    // Renamed first, so a crash halfway never leaves a partial layer under its name.
    const doomed = `${this.layersDir}/.rm-${hex.slice(0, 12)}-${randomBytes(4).toString('hex')}`;
    renameSync(`${this.layersDir}/${hex}`, doomed);
    rmSync(doomed, { recursive: true, force: true });
  }

  /**
   * Holding the lock, after a failed import: removes the layers it unpacked (hex), and its
   * leftovers. A container can use a layer only through a record that lists it (and records
   * change only under the lock), so a layer no record lists is in use by none: this needs no
   * layersInUse, which a damaged pod record can make fail.
   */
  private removeUnpacked(unpacked: string[]): void {
    this.removeLeftovers();
    if (!unpacked.length) return;
    const referenced = this.referencedLayers();
    for (const hex of unpacked) if (!referenced.has(hex) && existsSync(`${this.layersDir}/${hex}`)) this.removeLayer(hex);
  }

  /** Holding the lock: removes unreferenced layers (none of `inUse`); returns their diff_ids. */
  private collect(inUse: Set<string>): string[] {
    this.removeLeftovers();
    const referenced = this.referencedLayers();
    const removed: string[] = [];
    for (const name of readdirSync(this.layersDir)) {
      if (!LAYER_DIR.test(name) || referenced.has(name) || inUse.has(name)) continue;
      this.removeLayer(name);
      removed.push(`sha256:${name}`);
    }
    return removed;
  }
}

/** The image `ref` (NAME[:TAG] or an id) from `store`: see ImageStore.resolve. */
export function resolveImage(store: ImageStore, ref: string): ResolvedImage {
  return store.resolve(ref);
}
