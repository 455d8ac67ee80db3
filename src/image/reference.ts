// How the image store names what it keeps: an image's record file by its NAME:TAG, and image
// ids as docker shows them. The NAME[:TAG] grammar itself is the pod model's (pod/image-ref.ts).
import { formatRef, type ImageRef } from '../pod/image-ref.js';

/**
 * The file name of an image's record: NAME:TAG with every byte outside [a-z0-9._-] as %XX,
 * so '/' can never reach the path (and the ':' always there rules out '.' and '..'). A name
 * too long for a file name is keyed by its sha256 instead.
 */
export function refFileName(ref: ImageRef): string {
  const text = formatRef(ref);
  const encoded = [...Buffer.from(text, 'utf8')]
    .map((b) => (/[a-z0-9._-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
  if (encoded.length <= 200) return `${encoded}.json`;
  // node:crypto (3-4 ms to load) only for a name too long to be a file name.
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  return `%23${createHash('sha256').update(text).digest('hex')}.json`;
}

/** An image id or a prefix of one (at least 12 hex digits), with or without "sha256:". */
export function idPrefix(text: string): string | undefined {
  const m = /^(?:sha256:)?([0-9a-f]{12,64})$/.exec(text);
  return m ? `sha256:${m[1]}` : undefined;
}

/** The 12 hex digits docker shows for an id. */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
