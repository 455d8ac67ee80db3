// tspod image import / ls / rm: the local image store (src/image/). No registry, ever.
import { TspodError } from '../errors.js';
import { requireRoot } from './root.js';
import { loadBinding } from '../native/binding.js';
import { stateRoot } from '../state/paths.js';
import { StateStore } from '../state/store.js';
import { DEFAULT_IMPORT_LIMITS } from '../image/budget.js';
import { ImageStore, imageRoot } from '../image/store.js';
import { importLimitsFromEnv } from './options.js';
import { shortId } from '../image/reference.js';
import { age, formatTable } from './table.js';
import { print, printError, skipped } from './print.js';

export interface ImageOptions {
  /** The store's root (default: $TSPOD_IMAGE_ROOT or /var/lib/tspod/images). */
  imageRoot?: string;
  /** The state directory (tspod --root), whose pods' layers are in use. */
  root?: string;
}

const LAYERS_WHY = 'layers are unpacked with their owners, device nodes and overlayfs xattrs';

function openStore(o: ImageOptions): ImageStore {
  return new ImageStore(imageRoot(o.imageRoot), loadBinding(), {
    layersInUse: () => layersInUse(o),
    onBadRecord: skipped,
    limits: importLimitsFromEnv(DEFAULT_IMPORT_LIMITS),
  });
}

/**
 * Layers that a pod's container is made of stay, whatever image rm says, while the pod exists.
 * A pod whose record cannot be read may use any of them: nothing is removed until it is mended
 * or removed, and the error says which it is.
 */
function layersInUse(o: ImageOptions): string[] {
  const bad: string[] = [];
  const records = new StateStore(stateRoot(o.root)).list((_name, problem) => bad.push(problem));
  if (bad.length) throw new TspodError(`cannot tell which layers are in use: ${bad[0]}`);
  return records.flatMap((r) => r.containers.flatMap((c) => c.imageLayers ?? []));
}

/** 1.2MB, as docker shows sizes (SI units). */
export function formatSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  if (i === 0) return `${bytes}B`;
  return `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)}${units[i]}`;
}

export async function imageImport(file: string, o: ImageOptions & { name?: string }): Promise<number> {
  requireRoot('tspod image import', LAYERS_WHY);
  const store = openStore(o);
  const images = await store.import(file, { name: o.name, log: (line) => printError(`${line}\n`) });
  for (const image of images) {
    for (const name of image.names) print(`imported ${name} (image ${shortId(image.id)}, ${image.platform})\n`);
  }
  return 0;
}

export async function imageList(o: ImageOptions & { json?: boolean }): Promise<number> {
  requireRoot('tspod image ls', 'the image store is readable by root only');
  const store = openStore(o);
  const images = store.list().map((r) => ({
    name: `${r.name}:${r.tag}`,
    id: r.id,
    platform: `${r.platform.os}/${r.platform.architecture}${r.platform.variant ? `/${r.platform.variant}` : ''}`,
    layers: r.layers.length,
    size: r.size,
    created: r.created ?? null,
    importedAt: r.importedAt,
  }));
  if (o.json) {
    print(JSON.stringify(images, null, 2) + '\n');
    return 0;
  }
  print(
    formatTable(
      ['IMAGE', 'ID', 'CREATED', 'SIZE', 'LAYERS', 'PLATFORM'],
      images.map((i) => [
        i.name,
        shortId(i.id),
        i.created && !Number.isNaN(Date.parse(i.created)) ? `${age(i.created)} ago` : '-',
        formatSize(i.size),
        String(i.layers),
        i.platform,
      ]),
    ),
  );
  return 0;
}

export async function imageRemove(refs: string[], o: ImageOptions): Promise<number> {
  requireRoot('tspod image rm', LAYERS_WHY);
  const store = openStore(o);
  for (const ref of refs) {
    const { untagged, deletedLayers } = await store.remove(ref);
    for (const name of untagged) print(`untagged ${name}\n`);
    for (const layer of deletedLayers) print(`deleted layer ${shortId(layer)}\n`);
  }
  return 0;
}
