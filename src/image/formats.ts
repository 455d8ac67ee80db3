// The two formats an image file comes in, read into one plan: which blobs, which layers (with
// their diff_ids), which config, for the platform of this host.
//   - OCI image layout: oci-layout, index.json, blobs/sha256/HEX; index.json lists manifests
//     or nested indexes (one per platform), named by org.opencontainers.image.ref.name.
//   - docker save: manifest.json, a list of { Config, RepoTags, Layers } with paths in the
//     archive; layers are plain tar (docker before 25: ID/layer.tar) or blobs/sha256/HEX.
// Every blob named by a digest is checked against it when read; nothing here unpacks.
import { createHash } from 'node:crypto';
import type { Transform } from 'node:stream';
import { TspodError } from '../errors.js';
import { parseImageRef, type ImageRef } from '../pod/image-ref.js';
import { measure, normalizeMemberPath, type Compression, type ImageSource } from './source.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** The image config fields a container runs with (docker's names, as in the config JSON). */
export interface ImageConfig {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  /** Keys of ExposedPorts, e.g. "80/tcp". */
  ExposedPorts?: string[];
  /** Keys of Volumes: paths. */
  Volumes?: string[];
  Labels?: Record<string, string>;
  StopSignal?: string;
}

export interface LayerPlan {
  /** The member (or file) holding the blob. */
  path: string;
  /** Digest of the blob as stored, when the format names one (always for OCI). */
  digest?: string;
  size?: number;
  mediaType?: string;
  /** Compression the media type promises; undefined: whatever the bytes say (docker save). */
  compression?: Compression;
  /** Digest of the uncompressed tar, from the config: the layer's key in the store. */
  diffId: string;
  /** How this layer is named in messages. */
  label: string;
}

export interface ImagePlan {
  format: 'oci' | 'docker-save';
  /** From the file; empty when it gives none. */
  names: ImageRef[];
  /** The config's digest. */
  id: string;
  manifestDigest?: string;
  platform: Platform;
  created?: string;
  config: ImageConfig;
  layers: LayerPlan[];
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const MAX_JSON = 8 << 20;

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const CONFIG_TYPES = ['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json'];

/** Layer media types, and the compression each promises. */
const LAYER_TYPES: Record<string, Compression | 'zstd'> = {
  'application/vnd.oci.image.layer.v1.tar': 'none',
  'application/vnd.oci.image.layer.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd': 'zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar': 'none',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd': 'zstd',
  'application/vnd.docker.image.rootfs.diff.tar': 'none',
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip': 'gzip',
  'application/vnd.docker.image.rootfs.diff.tar.zstd': 'zstd',
};

/** linux/amd64 or linux/arm64 (Node's x64 is GOARCH amd64). */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ia32: '386',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
  };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch };
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** Whether an image for `have` runs on `want`; a variant counts only when `want` names one. */
export function platformMatches(want: Platform, have: Platform): boolean {
  if (want.os !== have.os || want.architecture !== have.architecture) return false;
  return !want.variant || !have.variant || want.variant === have.variant;
}

function fail(source: ImageSource, problem: string): never {
  throw new TspodError(`${source.label}: ${problem}`);
}

function parseJson(source: ImageSource, what: string, data: Buffer): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch (err) {
    fail(source, `${what} is not valid JSON: ${(err as Error).message}`);
  }
}

async function readAll(source: ImageSource, path: string, what: string): Promise<Buffer> {
  const size = source.size(path);
  if (size > MAX_JSON) fail(source, `${what} is ${size} bytes: too large for a JSON document`);
  const chunks: Buffer[] = [];
  for await (const c of source.open(path)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function blobPath(digest: string): string {
  return `blobs/${digest.replace(':', '/')}`;
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: Platform;
  annotations: Record<string, string>;
}

function descriptor(source: ImageSource, v: unknown, where: string): Descriptor {
  if (!isObject(v)) fail(source, `${where}: not a descriptor`);
  const digest = v.digest;
  if (typeof digest !== 'string') fail(source, `${where}: descriptor without a digest`);
  if (!DIGEST.test(digest)) {
    fail(source, `${where}: digest "${digest}" is not supported (tspod reads sha256:<64 hex digits>)`);
  }
  const size = v.size;
  if (size !== undefined && !(typeof size === 'number' && Number.isSafeInteger(size) && size >= 0)) fail(source, `${where}: invalid size`);
  let platform: Platform | undefined;
  if (isObject(v.platform) && typeof v.platform.os === 'string' && typeof v.platform.architecture === 'string') {
    platform = { os: v.platform.os, architecture: v.platform.architecture };
    if (typeof v.platform.variant === 'string' && v.platform.variant) platform.variant = v.platform.variant;
  }
  const annotations: Record<string, string> = {};
  if (isObject(v.annotations)) for (const [k, a] of Object.entries(v.annotations)) if (typeof a === 'string') annotations[k] = a;
  return {
    mediaType: typeof v.mediaType === 'string' ? v.mediaType : undefined,
    digest,
    size: size as number | undefined,
    platform,
    annotations,
  };
}

/** A JSON blob, its digest (and size, when given) checked before it is parsed. */
async function readBlob(source: ImageSource, d: { digest: string; size?: number }, what: string): Promise<{ data: Buffer; json: unknown }> {
  const path = blobPath(d.digest);
  if (!source.has(path)) fail(source, `${what} ${d.digest} is missing (${path})`);
  const data = await readAll(source, path, `${what} ${d.digest}`);
  checkBlob(source, d, sha256(data), data.length);
  return { data, json: parseJson(source, `${what} ${d.digest}`, data) };
}

/** The one check of a blob against what names it: digest, then size. */
function checkBlob(source: ImageSource, d: { digest: string; size?: number }, actual: string, size: number): void {
  if (actual !== d.digest) fail(source, `blob ${d.digest} is corrupted: its content has digest ${actual}`);
  if (d.size !== undefined && size !== d.size) fail(source, `blob ${d.digest}: ${size} bytes where its descriptor says ${d.size}`);
}

function strings(source: ImageSource, v: unknown, where: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) fail(source, `${where} is not a list of strings`);
  return v as string[];
}

interface ParsedConfig {
  platform: Platform;
  created?: string;
  config: ImageConfig;
  diffIds: string[];
}

/** The image config JSON: platform, run settings and rootfs.diff_ids. */
function parseConfig(source: ImageSource, json: unknown, where: string): ParsedConfig {
  if (!isObject(json)) fail(source, `${where} is not a JSON object`);
  if (typeof json.os !== 'string' || typeof json.architecture !== 'string') fail(source, `${where} has no os and architecture`);
  const platform: Platform = { os: json.os, architecture: json.architecture };
  if (typeof json.variant === 'string' && json.variant) platform.variant = json.variant;
  const rootfs = json.rootfs;
  if (!isObject(rootfs) || rootfs.type !== 'layers') fail(source, `${where}: rootfs.type is not "layers"`);
  const diffIds = strings(source, rootfs.diff_ids, `${where}: rootfs.diff_ids`) ?? [];
  for (const d of diffIds) if (!DIGEST.test(d)) fail(source, `${where}: diff_id "${d}" is not sha256:<64 hex digits>`);
  const c = isObject(json.config) ? json.config : {};
  const config: ImageConfig = {};
  const list = (k: 'Entrypoint' | 'Cmd' | 'Env') => {
    const v = strings(source, c[k], `${where}: config.${k}`);
    if (v) config[k] = v;
  };
  list('Entrypoint');
  list('Cmd');
  list('Env');
  for (const k of ['WorkingDir', 'User', 'StopSignal'] as const) {
    if (c[k] === undefined || c[k] === null || c[k] === '') continue;
    if (typeof c[k] !== 'string') fail(source, `${where}: config.${k} is not a string`);
    config[k] = c[k] as string;
  }
  for (const k of ['ExposedPorts', 'Volumes'] as const) if (isObject(c[k])) config[k] = Object.keys(c[k] as object);
  if (isObject(c.Labels)) {
    config.Labels = {};
    for (const [k, v] of Object.entries(c.Labels)) if (typeof v === 'string') config.Labels[k] = v;
  }
  const created = typeof json.created === 'string' ? json.created : undefined;
  return { platform, created, config, diffIds };
}

function checkPlatform(source: ImageSource, want: Platform, have: Platform, where: string): void {
  if (!platformMatches(want, have)) fail(source, `${where} is for ${formatPlatform(have)}, not this host's ${formatPlatform(want)}`);
}

// ---------------------------------------------------------------------------------------------
// OCI image layout

/** The image's name from an index.json entry: containerd's full name, else the OCI ref name. */
function ociNames(source: ImageSource, d: Descriptor): ImageRef[] {
  const text = d.annotations['io.containerd.image.name'] ?? d.annotations['org.opencontainers.image.ref.name'];
  if (text === undefined) return [];
  try {
    return [parseImageRef(text, 'org.opencontainers.image.ref.name')];
  } catch (err) {
    fail(source, (err as Error).message);
  }
}

interface Candidate {
  /** The manifest descriptor. */
  manifest: Descriptor;
  platform?: Platform;
}

/** How deep indexes may nest, and how many descriptors a layout's indexes may hold in all. */
const MAX_INDEX_DEPTH = 4;
const MAX_DESCRIPTORS = 10_000;

/**
 * The image manifests descriptors lead to, through nested indexes. Each index is read and
 * expanded once, however many places name it (a few KB of indexes naming each other 40 times
 * a level made millions of descriptors before), and every descriptor counts toward one bound.
 */
class IndexWalk {
  private readonly expanded = new Map<string, Promise<Candidate[]>>();
  private descriptors = 0;

  constructor(private readonly source: ImageSource) {}

  async expand(d: Descriptor, depth: number): Promise<Candidate[]> {
    const { source } = this;
    if (++this.descriptors > MAX_DESCRIPTORS) fail(source, `its indexes name more than ${MAX_DESCRIPTORS} descriptors`);
    if (depth > MAX_INDEX_DEPTH) fail(source, `indexes nested more than ${MAX_INDEX_DEPTH} deep at ${d.digest}`);
    if (d.mediaType === OCI_MANIFEST || d.mediaType === DOCKER_MANIFEST) return [{ manifest: d, platform: d.platform }];
    if (d.mediaType !== undefined && d.mediaType !== OCI_INDEX && d.mediaType !== DOCKER_LIST) return []; // an artifact
    let candidates = this.expanded.get(d.digest);
    if (!candidates) this.expanded.set(d.digest, (candidates = this.expandIndex(d, depth)));
    return candidates;
  }

  private async expandIndex(d: Descriptor, depth: number): Promise<Candidate[]> {
    const { source } = this;
    const { json } = await readBlob(source, d, 'index');
    if (!isObject(json)) fail(source, `index ${d.digest} is not a JSON object`);
    if (d.mediaType === undefined && !Array.isArray(json.manifests)) return [{ manifest: d, platform: d.platform }];
    if (!Array.isArray(json.manifests)) fail(source, `index ${d.digest} has no manifests`);
    const out = new Map<string, Candidate>();
    for (const [i, m] of json.manifests.entries()) {
      for (const c of await this.expand(descriptor(source, m, `index ${d.digest}: manifests[${i}]`), depth + 1)) {
        out.set(`${c.manifest.digest} ${c.platform ? formatPlatform(c.platform) : ''}`, c);
      }
    }
    return [...out.values()];
  }
}

interface LoadedManifest {
  json: Record<string, unknown>;
  configDesc: Descriptor;
  config: ParsedConfig;
}

async function loadManifest(source: ImageSource, d: Descriptor): Promise<LoadedManifest> {
  const { json } = await readBlob(source, d, 'manifest');
  if (!isObject(json)) fail(source, `manifest ${d.digest} is not a JSON object`);
  const configDesc = descriptor(source, json.config, `manifest ${d.digest}: config`);
  if (configDesc.mediaType && !CONFIG_TYPES.includes(configDesc.mediaType)) {
    fail(source, `manifest ${d.digest} is not a container image (config media type ${configDesc.mediaType})`);
  }
  const { json: configJson } = await readBlob(source, configDesc, 'config');
  return { json, configDesc, config: parseConfig(source, configJson, `config ${configDesc.digest}`) };
}

async function ociPlan(source: ImageSource, names: ImageRef[], m: Descriptor, loaded: LoadedManifest, want: Platform): Promise<ImagePlan> {
  const { json, configDesc, config } = loaded;
  checkPlatform(source, want, config.platform, `image ${configDesc.digest}`);
  if (!Array.isArray(json.layers)) fail(source, `manifest ${m.digest} has no layers`);
  if (json.layers.length !== config.diffIds.length) {
    fail(source, `manifest ${m.digest} has ${json.layers.length} layers but its config ${config.diffIds.length} diff_ids`);
  }
  const layers = json.layers.map((l, i): LayerPlan => {
    const d = descriptor(source, l, `manifest ${m.digest}: layers[${i}]`);
    const label = `layer ${d.digest}`;
    const compression = d.mediaType === undefined ? undefined : LAYER_TYPES[d.mediaType];
    if (compression === undefined) fail(source, `${label}: media type ${d.mediaType ?? '(none)'} is not a layer tspod can unpack`);
    if (compression === 'zstd')
      fail(source, `${label}: zstd-compressed (${d.mediaType}), which tspod does not support (only tar and tar+gzip)`);
    if (!source.has(blobPath(d.digest))) fail(source, `${label} is missing (${blobPath(d.digest)})`);
    return {
      path: blobPath(d.digest),
      digest: d.digest,
      size: d.size,
      mediaType: d.mediaType,
      compression,
      diffId: config.diffIds[i],
      label,
    };
  });
  return {
    format: 'oci',
    names,
    id: configDesc.digest,
    manifestDigest: m.digest,
    platform: config.platform,
    created: config.created,
    config: config.config,
    layers,
  };
}

/** The images of an OCI layout for `want`: one per name in index.json (or one unnamed). */
async function readOciLayout(source: ImageSource, want: Platform): Promise<ImagePlan[]> {
  const layout = parseJson(source, 'oci-layout', await readAll(source, 'oci-layout', 'oci-layout'));
  if (!isObject(layout) || typeof layout.imageLayoutVersion !== 'string') fail(source, 'oci-layout has no imageLayoutVersion');
  const index = parseJson(source, 'index.json', await readAll(source, 'index.json', 'index.json'));
  if (!isObject(index) || !Array.isArray(index.manifests)) fail(source, 'index.json has no manifests');
  // Entries with the same name are one image's platforms (or one multi-platform index).
  const groups = new Map<string, { names: ImageRef[]; candidates: Candidate[] }>();
  const walk = new IndexWalk(source);
  for (const [i, m] of index.manifests.entries()) {
    const d = descriptor(source, m, `index.json: manifests[${i}]`);
    const names = ociNames(source, d);
    const key = names.map((n) => `${n.name}:${n.tag}`).join(',');
    const group = groups.get(key) ?? { names, candidates: [] };
    for (const c of await walk.expand(d, 0)) group.candidates.push(c);
    groups.set(key, group);
  }
  const plans: ImagePlan[] = [];
  const seen: string[] = [];
  for (const { names, candidates } of groups.values()) {
    // Attestations and signatures ride along as unknown/unknown: never images to run.
    const images = candidates.filter((c) => c.platform?.os !== 'unknown');
    // A descriptor that names its platform is chosen without reading every other manifest.
    const named = images.filter((c) => c.platform && platformMatches(want, c.platform));
    named.sort((a, b) => Number(!!a.platform?.variant) - Number(!!b.platform?.variant));
    let chosen: { c: Candidate; loaded: LoadedManifest } | undefined;
    for (const c of [...named, ...images.filter((c) => !c.platform)]) {
      const loaded = await loadManifest(source, c.manifest);
      if (platformMatches(want, loaded.config.platform)) {
        chosen = { c, loaded };
        break;
      }
      seen.push(formatPlatform(loaded.config.platform));
    }
    for (const c of images) if (c.platform) seen.push(formatPlatform(c.platform));
    if (chosen) plans.push(await ociPlan(source, names, chosen.c.manifest, chosen.loaded, want));
  }
  if (!plans.length) noPlatform(source, want, seen);
  return plans;
}

function noPlatform(source: ImageSource, want: Platform, seen: string[]): never {
  const list = [...new Set(seen)].sort();
  fail(
    source,
    `no image for this host's platform ${formatPlatform(want)}; the file has ${list.length ? list.join(', ') : 'no image manifests'}`,
  );
}

// ---------------------------------------------------------------------------------------------
// docker save

function memberPath(source: ImageSource, path: unknown, where: string): string {
  const p = typeof path === 'string' ? normalizeMemberPath(path) : undefined;
  if (p === undefined) fail(source, `${where}: "${String(path)}" is not a path inside the archive`);
  return p;
}

/** The digest a member's name carries: blobs/sha256/HEX, HEX.json, sha256:HEX. */
function digestInName(path: string): string | undefined {
  const m = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(path) ?? /^(?:sha256:)?([0-9a-f]{64})(?:\.json)?$/.exec(path);
  return m ? `sha256:${m[1]}` : undefined;
}

async function readDockerSave(source: ImageSource, want: Platform): Promise<ImagePlan[]> {
  const manifest = parseJson(source, 'manifest.json', await readAll(source, 'manifest.json', 'manifest.json'));
  if (!Array.isArray(manifest) || manifest.length === 0) fail(source, 'manifest.json is not a list of images');
  const plans: ImagePlan[] = [];
  const seen: string[] = [];
  for (const [i, item] of manifest.entries()) {
    const where = `manifest.json[${i}]`;
    if (!isObject(item)) fail(source, `${where} is not an object`);
    const configPath = memberPath(source, item.Config, `${where}.Config`);
    if (!source.has(configPath)) fail(source, `${where}.Config: ${configPath} is missing`);
    const data = await readAll(source, configPath, configPath);
    const id = sha256(data);
    const named = digestInName(configPath);
    if (named) checkBlob(source, { digest: named }, id, data.length);
    const config = parseConfig(source, parseJson(source, configPath, data), `config ${configPath}`);
    if (!platformMatches(want, config.platform)) {
      seen.push(formatPlatform(config.platform));
      continue;
    }
    const layerPaths = Array.isArray(item.Layers) ? item.Layers : fail(source, `${where}.Layers is not a list`);
    if (layerPaths.length !== config.diffIds.length) {
      fail(source, `${where} has ${layerPaths.length} layers but its config ${config.diffIds.length} diff_ids`);
    }
    const layers = layerPaths.map((l, j): LayerPlan => {
      const path = memberPath(source, l, `${where}.Layers[${j}]`);
      if (!source.has(path)) fail(source, `layer ${path} is missing`);
      const digest = digestInName(path);
      return { path, digest, diffId: config.diffIds[j], label: digest ? `layer ${digest}` : `layer ${path}` };
    });
    const tags = strings(source, item.RepoTags, `${where}.RepoTags`) ?? [];
    const names = tags.map((t) => {
      try {
        return parseImageRef(t, `${where}.RepoTags`);
      } catch (err) {
        fail(source, (err as Error).message);
      }
    });
    plans.push({ format: 'docker-save', names, id, platform: config.platform, created: config.created, config: config.config, layers });
  }
  if (!plans.length) noPlatform(source, want, seen);
  return plans;
}

/** The images in `source` for the platform `want`. */
export async function readImages(source: ImageSource, want: Platform): Promise<ImagePlan[]> {
  if (source.has('manifest.json')) return readDockerSave(source, want);
  if (source.has('oci-layout') && source.has('index.json')) return readOciLayout(source, want);
  fail(source, 'neither an OCI image layout (oci-layout, index.json) nor a docker save tarball (manifest.json)');
}

/**
 * Checks a layer blob before anything is unpacked: its digest and size when the format names
 * them, and (docker save, which names none for ID/layer.tar) its content against the diff_id.
 */
export async function verifyLayer(source: ImageSource, layer: LayerPlan, compression: Compression, bound?: Transform): Promise<void> {
  const needContent = !layer.digest;
  let m;
  try {
    m = await measure(source.open(layer.path), needContent && compression === 'gzip', bound);
  } catch (err) {
    // A broken gzip stream: zlib's message alone would not say which layer.
    if (err instanceof TspodError || !(err as NodeJS.ErrnoException).code?.startsWith('Z_')) throw err;
    fail(source, `${layer.label} is corrupted: ${(err as Error).message}`);
  }
  if (layer.digest) checkBlob(source, { digest: layer.digest, size: layer.size }, m.digest, m.size);
  if (needContent) {
    const content = m.uncompressedDigest ?? m.digest;
    if (content !== layer.diffId)
      fail(source, `${layer.label} is corrupted: its content has digest ${content}, its config says ${layer.diffId}`);
  }
}
