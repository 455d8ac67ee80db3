// Builds image files for tests, with no external tool: a tar writer (ustar, with pax or GNU
// long names), and from layer tars an OCI image layout (directory or tar) or a docker save
// tarball, digests and all.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

export interface Member {
  path: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds. */
  mtime?: number;
  body?: string | Buffer;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** How a name too long for ustar is written (default pax). */
  longNames?: 'pax' | 'gnu';
  xattrs?: Record<string, string | Buffer>;
  /** Raw pax records (uid, mtime, ...), as a writer could put them, sound or not. */
  pax?: Record<string, string>;
}

const TYPEFLAG = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' } as const;
export const MTIME = 1_700_000_000;

function octal(value: number, length: number): string {
  return value.toString(8).padStart(length - 1, '0') + '\0';
}

function header(fields: {
  name: string;
  prefix?: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  gnu?: boolean;
}): Buffer {
  const b = Buffer.alloc(512);
  b.write(fields.name, 0, 100, 'utf8');
  b.write(octal(fields.mode, 8), 100, 'latin1');
  b.write(octal(fields.uid, 8), 108, 'latin1');
  b.write(octal(fields.gid, 8), 116, 'latin1');
  b.write(octal(fields.size, 12), 124, 'latin1');
  b.write(octal(Math.floor(fields.mtime), 12), 136, 'latin1');
  b.write(fields.type, 156, 'latin1');
  if (fields.linkname) b.write(fields.linkname, 157, 100, 'utf8');
  if (fields.gnu) b.write('ustar  \0', 257, 'latin1');
  else {
    b.write('ustar\0', 257, 'latin1');
    b.write('00', 263, 'latin1');
  }
  b.write('root', 265, 'latin1');
  b.write('root', 297, 'latin1');
  b.write(octal(fields.devmajor ?? 0, 8), 329, 'latin1');
  b.write(octal(fields.devminor ?? 0, 8), 337, 'latin1');
  if (fields.prefix) b.write(fields.prefix, 345, 155, 'utf8');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(octal(sum, 7) + ' ', 148, 'latin1');
  return b;
}

function pad(data: Buffer): Buffer {
  const extra = (512 - (data.length % 512)) % 512;
  return extra ? Buffer.concat([data, Buffer.alloc(extra)]) : data;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = rest.length + 1;
  while (String(len).length + rest.length !== len) len++;
  return Buffer.concat([Buffer.from(String(len)), rest]);
}

/** A tar archive (two zero blocks at the end, padded to 10 KiB as GNU tar does). */
export function writeTar(members: Member[]): Buffer {
  const out: Buffer[] = [];
  for (const m of members) {
    const type = m.type ?? (m.path.endsWith('/') ? 'dir' : 'file');
    const body = type === 'file' ? Buffer.from(m.body ?? '') : Buffer.alloc(0);
    const base = {
      type: TYPEFLAG[type],
      mode: m.mode ?? (type === 'dir' ? 0o755 : 0o644),
      uid: m.uid ?? 0,
      gid: m.gid ?? 0,
      size: body.length,
      mtime: m.mtime ?? MTIME,
      devmajor: m.devmajor,
      devminor: m.devminor,
    };
    let name = m.path;
    let prefix: string | undefined;
    let linkname = m.linkname;
    const pax: Buffer[] = [];
    if (Buffer.byteLength(name) > 100) {
      const cut = name.lastIndexOf('/', 155);
      if (m.longNames === 'gnu') {
        const data = Buffer.from(name + '\0');
        out.push(header({ ...base, name: '././@LongLink', type: 'L', size: data.length, mode: 0, gnu: true }), pad(data));
        name = name.slice(0, 100);
      } else if (!m.longNames && cut > 0 && Buffer.byteLength(name.slice(cut + 1)) <= 100 && Buffer.byteLength(name.slice(0, cut)) <= 155) {
        prefix = name.slice(0, cut);
        name = name.slice(cut + 1);
      } else {
        pax.push(paxRecord('path', Buffer.from(m.path)));
        name = name.slice(0, 100);
      }
    }
    if (linkname && Buffer.byteLength(linkname) > 100) {
      pax.push(paxRecord('linkpath', Buffer.from(linkname)));
      linkname = linkname.slice(0, 100);
    }
    for (const [k, v] of Object.entries(m.xattrs ?? {})) pax.push(paxRecord(`SCHILY.xattr.${k}`, Buffer.from(v)));
    for (const [k, v] of Object.entries(m.pax ?? {})) pax.push(paxRecord(k, Buffer.from(v)));
    if (pax.length) {
      const data = Buffer.concat(pax);
      out.push(header({ ...base, name: 'PaxHeader', type: 'x', size: data.length, mode: 0o644 }), pad(data));
    }
    out.push(header({ ...base, name, prefix, linkname }), pad(body));
  }
  out.push(Buffer.alloc(1024));
  const tar = Buffer.concat(out);
  return Buffer.concat([tar, Buffer.alloc((10240 - (tar.length % 10240)) % 10240)]);
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export interface TestImage {
  /** Uncompressed layer tars, bottom first. */
  layers: Buffer[];
  /** gzip the layer blobs (default true for OCI; docker save stores plain tars). */
  gzip?: boolean;
  config?: Record<string, unknown>;
  os?: string;
  architecture?: string;
  /** org.opencontainers.image.ref.name in index.json. */
  refName?: string;
  /** docker save RepoTags. */
  repoTags?: string[];
  created?: string;
}

export function hostArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

export interface BuiltImage {
  /** Every blob, by digest. */
  blobs: Map<string, Buffer>;
  configDigest: string;
  manifestDigest: string;
  layerDigests: string[];
  diffIds: string[];
  indexJson: Record<string, unknown>;
}

/** The blobs of an image: layers (gzip unless told), config, manifest; and index.json. */
export function buildImage(image: TestImage): BuiltImage {
  const blobs = new Map<string, Buffer>();
  const add = (data: Buffer) => {
    const d = sha256(data);
    blobs.set(d, data);
    return d;
  };
  const gzip = image.gzip ?? true;
  const diffIds = image.layers.map((l) => sha256(l));
  const layerDescs = image.layers.map((l) => {
    const data = gzip ? gzipSync(l) : l;
    return { mediaType: `application/vnd.oci.image.layer.v1.tar${gzip ? '+gzip' : ''}`, digest: add(data), size: data.length };
  });
  const platform = { os: image.os ?? 'linux', architecture: image.architecture ?? hostArch() };
  const configData = Buffer.from(
    JSON.stringify({
      created: image.created ?? '2024-01-02T03:04:05Z',
      ...platform,
      config: image.config ?? {},
      rootfs: { type: 'layers', diff_ids: diffIds },
    }),
  );
  const configDigest = add(configData);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: configData.length },
      layers: layerDescs,
    }),
  );
  const manifestDigest = add(manifest);
  const indexJson = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: manifestDigest,
        size: manifest.length,
        platform,
        ...(image.refName ? { annotations: { 'org.opencontainers.image.ref.name': image.refName } } : {}),
      },
    ],
  };
  return { blobs, configDigest, manifestDigest, layerDigests: layerDescs.map((d) => d.digest), diffIds, indexJson };
}

/** The files of an OCI layout: path in the layout to content. */
export function ociLayoutFiles(built: BuiltImage): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  files.set('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
  files.set('index.json', Buffer.from(JSON.stringify(built.indexJson)));
  for (const [d, data] of built.blobs) files.set(`blobs/${d.replace(':', '/')}`, data);
  return files;
}

export function writeOciLayoutDir(dir: string, built: BuiltImage): string {
  for (const [path, data] of ociLayoutFiles(built)) {
    mkdirSync(`${dir}/${path}`.replace(/\/[^/]+$/, ''), { recursive: true });
    writeFileSync(`${dir}/${path}`, data);
  }
  return dir;
}

/** A tar of files (directories added for each parent, as tar(1) would). */
export function tarOfFiles(files: Map<string, Buffer>): Buffer {
  const dirs = new Set<string>();
  const members: Member[] = [];
  for (const path of [...files.keys()].sort()) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/') + '/';
      if (!dirs.has(d)) {
        dirs.add(d);
        members.push({ path: d, type: 'dir' });
      }
    }
    members.push({ path, body: files.get(path)! });
  }
  return writeTar(members);
}

export function ociLayoutTar(built: BuiltImage): Buffer {
  return tarOfFiles(ociLayoutFiles(built));
}

/** The files of a docker save tarball as docker before 25 wrote it: ID/layer.tar, HEX.json. */
export function dockerSaveFiles(image: TestImage, built = buildImage({ ...image, gzip: false })): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const configHex = built.configDigest.slice(7);
  files.set(`${configHex}.json`, built.blobs.get(built.configDigest)!);
  const layerPaths = image.layers.map((l, i) => {
    // docker's legacy layer ids are not content digests: anything unique does.
    const id = createHash('sha256').update(`layer-${i}-`).update(l).digest('hex');
    files.set(`${id}/VERSION`, Buffer.from('1.0'));
    files.set(`${id}/json`, Buffer.from(JSON.stringify({ id })));
    files.set(`${id}/layer.tar`, l);
    return `${id}/layer.tar`;
  });
  files.set(
    'manifest.json',
    Buffer.from(JSON.stringify([{ Config: `${configHex}.json`, RepoTags: image.repoTags ?? null, Layers: layerPaths }])),
  );
  const repos: Record<string, Record<string, string>> = {};
  for (const t of image.repoTags ?? []) {
    const i = t.lastIndexOf(':');
    (repos[t.slice(0, i)] ??= {})[t.slice(i + 1)] = layerPaths.at(-1)!.split('/')[0];
  }
  files.set('repositories', Buffer.from(JSON.stringify(repos)));
  return files;
}

export function dockerSaveTar(image: TestImage): Buffer {
  return tarOfFiles(dockerSaveFiles(image));
}

/**
 * The test tree, two layers. Layer 1: /bin/hello (0755), /etc/keep, /etc/gone, /data/old1,
 * /data/sub/old2, a setuid /usr/bin/su, a symlink, a hardlink, a char device 1:3, a file of
 * uid/gid 1000 with its own mtime, a path of more than 100 bytes. Layer 2: deletes /etc/gone
 * (whiteout), makes /data opaque with /data/new, adds /etc/added.
 */
export function testLayers(): { base: Buffer; top: Buffer; longPath: string } {
  const longPath = `deep/${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(70)}.txt`;
  const base = writeTar([
    { path: './', type: 'dir', mode: 0o755 },
    { path: './bin/', type: 'dir' },
    { path: './bin/hello', mode: 0o755, body: '#!/bin/sh\necho hello\n' },
    { path: './etc/', type: 'dir' },
    { path: './etc/keep', body: 'kept\n' },
    { path: './etc/gone', body: 'deleted by the next layer\n' },
    { path: './data/', type: 'dir', mode: 0o750 },
    { path: './data/old1', body: 'old\n' },
    { path: './data/sub/', type: 'dir' },
    { path: './data/sub/old2', body: 'old too\n' },
    { path: './usr/bin/su', mode: 0o4755, body: 'setuid\n' },
    { path: './link', type: 'symlink', linkname: 'etc/keep' },
    { path: './hard', type: 'hardlink', linkname: 'etc/keep' },
    { path: './dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 },
    { path: './owned', uid: 1000, gid: 1000, mode: 0o640, mtime: 1_600_000_000, body: 'mine\n' },
    { path: longPath, body: 'long\n' },
  ]);
  const top = writeTar([
    { path: './etc/', type: 'dir' },
    { path: './etc/.wh.gone', body: '' },
    { path: './etc/added', body: 'added\n' },
    { path: './data/', type: 'dir', mode: 0o750 },
    { path: './data/.wh..wh..opq', body: '' },
    { path: './data/new', body: 'new\n' },
  ]);
  return { base, top, longPath };
}
