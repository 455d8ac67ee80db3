// A pod's storage, around its life: its volumes (emptyDir directories, or tmpfs for medium
// Memory; hostPath checked by its type; configMap and secret files, from the pod's copies of
// those objects, kept in its directory; downwardAPI files), and for containers with a root file system of their
// own, the pod's /dev/shm and etc files and each container's overlay directories. Everything
// lives under the pod's state directory; the tmpfs mounts are the supervisor's (under the pod's
// directory made a private mount first, so nothing propagates), and are undone when the pod ends.
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { InputError } from '../errors.js';
import { readLog } from '../logs/reader.js';
import type { FsStep, NativeBinding } from '../native/binding.js';
import { volumeFileValue } from '../pod/downward.js';
import { masksProc } from '../pod/security.js';
import { hostId } from '../pod/userns.js';
import { quantityBytes } from '../pod/fields.js';
import {
  containerObjects,
  noObjects,
  podObjects,
  volumeObject,
  type ObjectKind,
  type PodObjects,
  type StoredObject,
} from '../pod/objects.js';
import {
  DEFAULT_TERMINATION_MESSAGE_PATH,
  everyContainer,
  type ContainerSpec,
  type ObjectVolume,
  type PodSpec,
  type Volume,
} from '../pod/spec.js';
import { readRecordFile, writeRecordFile } from '../fs/files.js';
import type { ImageConfig } from '../image/formats.js';
import type { ResolvedImage } from '../image/store.js';
import { isMountPoint, unmountUnder } from '../fs/mounts.js';
import { removeTree } from '../fs/remove.js';
import { hostfsSteps, layerLinks, rootfsSteps, type BindMount } from '../fs/rootfs.js';
import { containerUser, type UserIds } from '../fs/users.js';
import { hostsFile, resolvConf, type EtcSpec } from './etc.js';

/** Finds a stored ConfigMap or Secret (state/objects.ts). */
export type ObjectLookup = (kind: ObjectKind, name: string) => StoredObject | undefined;

/** The pod's /dev/shm, as Docker sizes it. */
const SHM_SIZE = '64m';

/** The kubelet's bounds of a termination message: 4 KiB from the file, or 80 lines and 2 KiB of the log. */
const MAX_TERMINATION_MESSAGE = 4096;
const FALLBACK_LOG_LINES = 80;
const FALLBACK_LOG_BYTES = 2048;

/** What a container's process needs from its pod's storage, for each start. */
export interface ContainerFs {
  fs: FsStep[];
  /** It has a root of its own: its program is searched for there, not on the host. */
  ownRoot: boolean;
  /** Its image's config, to merge with its spec (Kubernetes' rules: runtime/container.ts, pod/env.ts). */
  image?: { ref: string; id: string; layers: string[]; config: ImageConfig };
  user?: UserIds;
}

/** Kubernetes' hostPath type checks; the OrCreate types make what is missing. */
function checkHostPath(v: Extract<Volume, { hostPath: unknown }>, path: string): void {
  const { path: p, type = '' } = v.hostPath;
  let st = (() => {
    try {
      return statSync(p);
    } catch {
      return undefined;
    }
  })();
  if (!st && type === 'DirectoryOrCreate') {
    mkdirSync(p, { recursive: true, mode: 0o755 });
    st = statSync(p);
  }
  if (!st && type === 'FileOrCreate') {
    closeSync(openSync(p, 'a', 0o644));
    st = statSync(p);
  }
  const want: Record<string, [boolean | undefined, string]> = {
    Directory: [st?.isDirectory(), 'a directory'],
    DirectoryOrCreate: [st?.isDirectory(), 'a directory'],
    File: [st?.isFile(), 'a file'],
    FileOrCreate: [st?.isFile(), 'a file'],
    Socket: [st?.isSocket(), 'a socket'],
    CharDevice: [st?.isCharacterDevice(), 'a character device'],
    BlockDevice: [st?.isBlockDevice(), 'a block device'],
  };
  if (type === '') return;
  const [ok, what] = want[type];
  if (!st) throw new InputError(`${path}.hostPath.path`, `${p} does not exist (type ${type})`);
  if (!ok) throw new InputError(`${path}.hostPath.path`, `${p} is not ${what} (type ${type})`);
}

/**
 * Makes the directories of `sub` beneath `base`, a level at a time, never through a symlink: a
 * name that is there already and is not a directory stops it (the mount's check then decides).
 * Each name is looked up in the directory opened the step before, through /proc/self/fd: the
 * containers sharing the volume cannot swap a directory above it for a symlink meanwhile.
 */
export function mkdirsBeneath(base: string, sub: string): void {
  const flags = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
  let dir = openSync(base, flags);
  try {
    for (const part of sub.split('/').filter(Boolean)) {
      const at = `/proc/self/fd/${dir}/${part}`;
      try {
        mkdirSync(at, { mode: 0o777 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let next: number;
      try {
        next = openSync(at, flags);
      } catch {
        return; // a symlink or a file: the mount, resolved beneath the volume, decides
      }
      closeSync(dir);
      dir = next;
    }
  } finally {
    closeSync(dir);
  }
}

export class PodStorage {
  readonly podDir: string;
  private readonly binding: NativeBinding;
  private readonly spec: Pick<PodSpec, 'volumes' | 'fsGroup' | 'supplementalGroups' | 'userNamespace'> & EtcSpec;
  private readonly images: Map<string, ResolvedImage>;
  private shmReady = false;
  /** The pod's directory is a private mount (isolate). */
  private isolated = false;
  /** The pod's address on its network, once attached; /etc/hosts names it. */
  private podIP: string | undefined;

  /** The ConfigMaps and Secrets its containers and volumes name, as they were when it was created. */
  objects: PodObjects = noObjects();
  private readonly lookup: ObjectLookup;

  private constructor(
    binding: NativeBinding,
    spec: Pick<PodSpec, 'volumes' | 'fsGroup' | 'supplementalGroups' | 'userNamespace'> & EtcSpec,
    podDir: string,
    images: Map<string, ResolvedImage>,
    lookup: ObjectLookup,
  ) {
    this.lookup = lookup;
    this.binding = binding;
    this.spec = spec;
    this.podDir = podDir;
    this.images = images;
  }

  /**
   * Before the pod starts: volumes made or checked, images found in the store. Everything
   * that can be wrong is an error now, before any process exists. `adopt`: the pod runs already
   * (a new supervisor): what exists is kept.
   */
  static async prepare(
    binding: NativeBinding,
    spec: PodSpec,
    podDir: string,
    adopt = false,
    lookup: ObjectLookup = () => undefined,
  ): Promise<PodStorage> {
    const storage = new PodStorage(binding, spec, podDir, new Map(), lookup);
    for (const { c } of everyContainer(spec)) await storage.resolveImage(c);
    spec.volumes.forEach((v, i) => {
      if ('hostPath' in v) checkHostPath(v, `spec.volumes[${i}]`);
    });
    if (adopt) {
      storage.objects = storage.readObjects();
      return storage;
    }
    storage.objects = podObjects(spec, lookup);
    try {
      storage.writeObjects();
      for (const v of spec.volumes) {
        if ('emptyDir' in v) storage.makeEmptyDir(v);
        const o = volumeObject(v);
        if (o) storage.makeObjectVolume(v.name, o.kind, o.name, o.source);
        if ('downwardAPI' in v) {
          const files = v.downwardAPI.items.map((item) => ({
            path: item.path,
            bytes: Buffer.from(volumeFileValue(spec, item)),
            mode: item.mode ?? v.downwardAPI.defaultMode ?? 0o644,
          }));
          storage.writeVolumeFiles(storage.volumeDir(v.name), files);
        }
      }
    } catch (err) {
      await storage.release();
      throw err;
    }
    return storage;
  }

  /**
   * The objects a container added to the running pod names, copied into the pod's (an error
   * naming the field when one is missing); before it is planned.
   */
  addObjects(c: ContainerSpec, where: string): void {
    if (containerObjects(c, where, this.lookup, this.objects)) this.writeObjects();
  }

  /** The pod's copies of its objects, in its directory (root's, 0600): a new supervisor reads them. */
  private get objectsFile(): string {
    return `${this.podDir}/objects.json`;
  }

  private writeObjects(): void {
    if (!Object.keys(this.objects.ConfigMap).length && !Object.keys(this.objects.Secret).length) return;
    writeRecordFile(this.objectsFile, `${this.objectsFile}.${process.pid}.tmp`, { version: 1, ...this.objects });
  }

  private readObjects(): PodObjects {
    const r = readRecordFile<PodObjects & { version: number }>(this.objectsFile, 1, "pod's objects");
    return r ? { ConfigMap: r.ConfigMap, Secret: r.Secret } : noObjects();
  }

  /**
   * A configMap or secret volume: the object's keys (or its items) as files of their mode, as
   * the pod is created. A Secret's are on a tmpfs of the pod's, never on disk. The containers
   * mount it read-only. Missing (optional): an empty volume.
   */
  private makeObjectVolume(volume: string, kind: ObjectKind, name: string, source: ObjectVolume): void {
    const dir = this.volumeDir(volume);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const obj = this.objects[kind][name];
    const files = obj
      ? (source.items ?? Object.keys(obj.data).map((key) => ({ key, path: key, mode: undefined })))
          .filter((item) => Object.hasOwn(obj.data, item.key))
          .map((item) => ({
            path: item.path,
            bytes: Buffer.from(obj.data[item.key], 'base64'),
            mode: item.mode ?? source.defaultMode ?? 0o644,
          }))
      : [];
    if (kind === 'Secret') {
      // Each file takes at least a page; room for directories besides.
      const size = files.reduce((n, f) => n + Math.ceil((f.bytes.length + 1) / 4096) * 4096, 0) + 64 * 1024;
      this.tmpfs(dir, `mode=0755,size=${size}`);
    }
    this.writeVolumeFiles(dir, files);
  }

  /** A configMap's, secret's or downwardAPI volume's files, each of its mode, in `dir`. */
  private writeVolumeFiles(dir: string, files: { path: string; bytes: Buffer; mode: number }[]): void {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    for (const f of files) {
      const at = `${dir}/${f.path}`;
      if (f.path.includes('/')) mkdirSync(at.slice(0, at.lastIndexOf('/')), { recursive: true, mode: 0o755 });
      writeFileSync(at, f.bytes, { mode: f.mode, flag: 'wx' });
      // The umask took its bits: the mode asked for is the mode.
      chmodSync(at, f.mode);
      // The kubelet gives them fsGroup's group, readable by it (SetVolumeOwnership's 0440); in
      // a user namespace they are its root's.
      if (this.spec.fsGroup !== undefined || this.spec.userNamespace) chownSync(at, this.hostId(0), this.hostId(this.spec.fsGroup ?? 0));
      if (this.spec.fsGroup !== undefined) chmodSync(at, f.mode | 0o440);
    }
  }

  private async resolveImage(c: ContainerSpec): Promise<void> {
    if (!c.image || this.images.has(c.image)) return;
    const { ImageStore, imageRoot } = require('../image/store.js') as typeof import('../image/store.js');
    this.images.set(c.image, new ImageStore(imageRoot(), this.binding).resolve(c.image));
  }

  private volumeDir(name: string): string {
    return `${this.podDir}/volumes/${name}`;
  }

  private makeEmptyDir(v: Extract<Volume, { emptyDir: unknown }>): void {
    const dir = this.volumeDir(v.name);
    mkdirSync(dir, { recursive: true, mode: 0o777 });
    // As Kubernetes makes it: writable by whatever user the containers run as; with fsGroup,
    // of that group, and what is made in it too (setgid).
    chmodSync(dir, this.spec.fsGroup === undefined ? 0o777 : 0o2777);
    // In a user namespace, its root's (as the host's ids say it: the kernel's are the host's).
    const uid = this.hostId(0);
    const gid = this.hostId(this.spec.fsGroup ?? 0);
    if (this.spec.fsGroup !== undefined || this.spec.userNamespace) chownSync(dir, uid, gid);
    if (v.emptyDir.medium === 'Memory') {
      const size = v.emptyDir.sizeLimit ? `,size=${quantityBytes(v.emptyDir.sizeLimit, 'sizeLimit')}` : '';
      this.tmpfs(dir, `${this.spec.fsGroup === undefined ? 'mode=1777' : 'mode=2777'},uid=${uid},gid=${gid}${size}`);
    }
  }

  /** An id of the pod's user namespace as the host sees it (the same id without one). */
  private hostId(id: number): number {
    return hostId(this.spec, id);
  }

  /** A tmpfs of the supervisor's, private: it propagates to no other mount namespace. */
  private tmpfs(target: string, data: string): void {
    const c = this.binding.constants;
    this.isolate();
    this.binding.mount('tmpfs', target, 'tmpfs', c.MS_NOSUID | c.MS_NODEV, data);
    this.binding.mount('', target, '', c.MS_PRIVATE);
  }

  /**
   * The pod's directory becomes a private mount of its own before its first tmpfs. A mount made
   * under a shared one is copied into every peer and slave mount namespace (systemd makes / and
   * /run shared); making it private afterwards still leaves the copies there, each holding the
   * tmpfs, while the pod runs. The bind itself is copied too, with nothing under it.
   */
  private isolate(): void {
    if (this.isolated) return;
    const c = this.binding.constants;
    // A pod adopted from an earlier supervisor has it already, with its tmpfs under it: a
    // second bind (not recursive) would hide them. Made private either way.
    const bound = !isMountPoint(this.podDir);
    if (bound) this.binding.mount(this.podDir, this.podDir, '', c.MS_BIND);
    try {
      this.binding.mount('', this.podDir, '', c.MS_PRIVATE);
    } catch (err) {
      if (bound) {
        try {
          this.binding.umount2(this.podDir, c.MNT_DETACH);
        } catch {
          // the error to see is the one above
        }
      }
      throw err;
    }
    this.isolated = true;
  }

  /** The pod's shared /dev/shm and etc files, made when a first container needs them. */
  private podFiles(): void {
    if (this.shmReady) return;
    const shm = `${this.podDir}/shm`;
    if (!existsSync(shm)) {
      mkdirSync(shm, { mode: 0o1777 });
      this.tmpfs(shm, `mode=1777,size=${SHM_SIZE}`);
    }
    mkdirSync(`${this.podDir}/etc`, { recursive: true, mode: 0o755 });
    if (!existsSync(`${this.podDir}/etc/hosts`)) this.writeEtc();
    this.shmReady = true;
  }

  /**
   * The pod's network is attached: /etc/hosts names its address from now on. The files are
   * rewritten at once when a container already uses them (`rewrite`; not when a pod is adopted,
   * whose files are already right), or else written when a first container needs them.
   */
  setAddress(podIP: string | undefined, rewrite: boolean): void {
    this.podIP = podIP;
    if (rewrite && existsSync(`${this.podDir}/etc`)) this.writeEtc();
  }

  /** hostname, hosts and resolv.conf (etc.ts): the pod's names, address and resolver. */
  private writeEtc(): void {
    const etc = `${this.podDir}/etc`;
    writeFileSync(`${etc}/hostname`, `${this.spec.hostname}\n`, { mode: 0o644 });
    writeFileSync(`${etc}/hosts`, hostsFile(this.spec, this.podIP), { mode: 0o644 });
    // A host that resolves through systemd-resolved's 127.0.0.53 stub: its upstreams instead,
    // as the kubelet does (the stub is not in the pod's network).
    const resolved = '/run/systemd/resolve/resolv.conf';
    const host = readFileSync('/etc/resolv.conf', 'utf8');
    const upstream = /^nameserver 127\.0\.0\.53$/m.test(host) && existsSync(resolved) ? readFileSync(resolved, 'utf8') : host;
    writeFileSync(`${etc}/resolv.conf`, resolvConf(this.spec, upstream), { mode: 0o644 });
  }

  /**
   * Where a volume mount's files are on the host. A subPath is checked here, for a clear error,
   * but the mount resolves it again beneath the volume (the kernel's RESOLVE_BENEATH) at every
   * start: the containers sharing the volume can put a symlink on its way at any time.
   */
  private bindSource(
    m: NonNullable<ContainerSpec['volumeMounts']>[number],
    where: string,
  ): { source: string; sourceBeneath?: string; path: string } {
    const v = this.spec.volumes.find((x) => x.name === m.name)!;
    const base = 'hostPath' in v ? v.hostPath.path : this.volumeDir(v.name);
    if (!m.subPath) return { source: base, path: base };
    const path = `${base}/${m.subPath}`;
    if ('emptyDir' in v) {
      try {
        mkdirsBeneath(base, m.subPath);
      } catch (err) {
        // Its message would name /proc/self/fd/N: say which volume and which path instead.
        throw new InputError(
          `${where}.subPath`,
          `${m.subPath} could not be made in volume ${m.name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        );
      }
    }
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      throw new InputError(`${where}.subPath`, `${path} does not exist`);
    }
    const realBase = realpathSync(base);
    if (real !== realBase && !real.startsWith(realBase + '/'))
      throw new InputError(`${where}.subPath`, `${m.subPath} leads out of volume ${m.name}`);
    return { source: base, sourceBeneath: m.subPath, path: real };
  }

  /** The mount plan of one container; `where` names it in errors (spec.containers[1]). */
  async container(c: ContainerSpec, where: string): Promise<ContainerFs> {
    await this.resolveImage(c);
    const c_ = this.binding.constants;
    const binds: BindMount[] = (c.volumeMounts ?? []).map((m, i) => {
      const { path, ...source } = this.bindSource(m, `${where}.volumeMounts[${i}]`);
      // Kubernetes mounts a configMap's, secret's or downwardAPI volume's files read-only, whatever the mount says.
      const readOnly =
        (m.readOnly ?? false) || this.spec.volumes.some((v) => v.name === m.name && (volumeObject(v) !== undefined || 'downwardAPI' in v));
      return { ...source, target: m.mountPath, directory: statSync(path).isDirectory(), readOnly };
    });
    const image = c.image ? this.images.get(c.image) : undefined;
    if (!image && !c.rootfs) {
      // On the host's file system: mount points must exist already, of the right kind.
      binds.forEach((b, i) => {
        let st;
        try {
          st = lstatSync(b.target);
        } catch {
          throw new InputError(
            `${where}.volumeMounts[${i}].mountPath`,
            `${b.target} does not exist: a container on the host's file system mounts onto existing paths only`,
          );
        }
        if (st.isDirectory() !== b.directory) {
          const kind = st.isDirectory() ? 'a directory' : 'not a directory';
          throw new InputError(
            `${where}.volumeMounts[${i}].mountPath`,
            `${b.target} is ${kind}, its volume is ${b.directory ? 'a directory' : 'a file'}`,
          );
        }
      });
      return { fs: hostfsSteps(c_, binds, masksProc(c.securityContext)), ownRoot: false, user: this.user(c, undefined, where) };
    }
    if (c.rootfs && !statSync(c.rootfs, { throwIfNoEntry: false })?.isDirectory()) {
      throw new InputError(`${where}.rootfs`, `${c.rootfs} is not a directory`);
    }
    this.podFiles();
    const dir = `${this.podDir}/containers/${c.name}`;
    mkdirSync(`${dir}/rootfs`, { recursive: true, mode: 0o755 });
    if (image) layerLinks(`${dir}/layers`, image.layers);
    const fs = rootfsSteps(c_, {
      root: `${dir}/rootfs`,
      source: image
        ? { links: `${dir}/layers`, count: image.layers.length, upper: `${dir}/upper`, work: `${dir}/work` }
        : { dir: c.rootfs! },
      readOnly: c.securityContext?.readOnlyRootFilesystem ?? false,
      shm: `${this.podDir}/shm`,
      etc: `${this.podDir}/etc`,
      binds: [...binds, this.terminationFile(c)],
      privileged: c.securityContext?.privileged ?? false,
      masked: masksProc(c.securityContext),
      ...(this.spec.userNamespace ? { owner: this.hostId(0) } : {}),
    });
    return {
      fs,
      ownRoot: true,
      ...(image ? { image: { ref: c.image!, id: image.id, layers: image.layers, config: image.config } } : {}),
      user: this.user(c, image, where),
    };
  }

  /** runAsUser/runAsGroup over the image's User, names and groups from its (or the root
   *  file system's) /etc/passwd and /etc/group; nothing is looked up on the host. */
  private user(c: ContainerSpec, image: ResolvedImage | undefined, where: string): ContainerFs['user'] {
    const layers = image ? image.layers : c.rootfs ? [c.rootfs] : [];
    let user = containerUser(this.binding, layers, image?.config.User, c.securityContext, `${where}.image`);
    // The pod's groups join the user's (a root container too), as the kubelet gives them.
    const { fsGroup, supplementalGroups = [] } = this.spec;
    const extra = [...supplementalGroups, ...(fsGroup !== undefined ? [fsGroup] : [])];
    if (extra.length) {
      user ??= { uid: 0, gid: 0, groups: [] };
      user = { ...user, groups: [...new Set([...user.groups, ...extra])] };
    }
    if (c.securityContext?.runAsNonRoot && (user?.uid ?? 0) === 0) {
      throw new InputError(
        `${where}.securityContext.runAsNonRoot`,
        'the container would run as root (uid 0): give a runAsUser other than 0, or an image whose User is not root',
      );
    }
    return user;
  }

  /**
   * The kubelet's termination message file of a container with a root of its own: a file of
   * the pod's, bound at terminationMessagePath, writable by whatever user the container runs as
   * (it is reached only through the bind; the state directory is root's).
   */
  private terminationFile(c: ContainerSpec): BindMount {
    const file = `${this.podDir}/containers/${c.name}/termination-log`;
    // Kept when it is there: an adopted container may have written it already (beforeStart
    // empties it for each run).
    if (!existsSync(file)) {
      writeFileSync(file, '');
      chmodSync(file, 0o666);
    }
    return { source: file, target: c.terminationMessagePath ?? DEFAULT_TERMINATION_MESSAGE_PATH, directory: false, readOnly: false };
  }

  /**
   * Why a run ended, as the kubelet tells it: what the container left in its termination
   * message file (at most 4 KiB); with FallbackToLogsOnError, when that is empty and the run
   * failed, the end of its log (80 lines, at most 2 KiB). Undefined when there is neither.
   */
  terminationMessage(c: ContainerSpec, failed: boolean): string | undefined {
    let message = '';
    try {
      const fd = openSync(`${this.podDir}/containers/${c.name}/termination-log`, constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        const buf = Buffer.alloc(MAX_TERMINATION_MESSAGE);
        message = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('utf8');
      } finally {
        closeSync(fd);
      }
    } catch {
      // no file: a container on the host's file system
    }
    if (!message && failed && c.terminationMessagePolicy === 'FallbackToLogsOnError') {
      try {
        const lines = readLog(`${this.podDir}/logs/${c.name}.log`, { tail: FALLBACK_LOG_LINES }).map((l) => l.text);
        message = Buffer.from(lines.join('\n')).subarray(-FALLBACK_LOG_BYTES).toString('utf8');
      } catch {
        // no log (a library pod without log files)
      }
    }
    return message || undefined;
  }

  /** Before each start: an empty termination message file; with an image, a fresh writable
   *  layer (Kubernetes starts every restart from the image). */
  beforeStart(c: ContainerSpec): void {
    const dir = `${this.podDir}/containers/${c.name}`;
    if (existsSync(`${dir}/termination-log`)) writeFileSync(`${dir}/termination-log`, '');
    if (!c.image) return;
    for (const d of ['upper', 'work']) {
      removeTree(`${dir}/${d}`);
      mkdirSync(`${dir}/${d}`, { mode: 0o755 });
      // The root directory of its root is the upper layer's: the user namespace's root's.
      if (this.spec.userNamespace) chownSync(`${dir}/${d}`, this.hostId(0), this.hostId(0));
    }
  }

  /** A container left the pod: its directories go (its overlay died with its mount namespace). */
  forget(name: string): void {
    removeTree(`${this.podDir}/containers/${name}`);
  }

  /** When the pod has ended: tmpfs unmounted, volumes, overlays and etc files removed. */
  async release(): Promise<void> {
    unmountUnder(this.binding, this.podDir);
    this.isolated = false;
    for (const d of ['volumes', 'containers', 'shm', 'etc']) removeTree(`${this.podDir}/${d}`);
    rmSync(this.objectsFile, { force: true });
  }
}
