// Image names: NAME[:TAG], checked with docker's grammar and normalized as docker shows them
// ("docker.io/library/nginx" and "library/nginx" are "nginx"), so the names a docker save
// tarball and an OCI layout give for one image are the same name here.
import { InputError } from '../errors.js';

const DEFAULT_TAG = 'latest';

export interface ImageRef {
  /** Normalized: no docker.io/ and no library/ for docker hub's official images. */
  name: string;
  tag: string;
}

const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$/;
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const MAX_NAME = 255;

/** Why `text` is not NAME[:TAG], or undefined when it is. */
function refProblem(text: string): string | undefined {
  if (text === '') return 'an image name is needed';
  if (text.includes('@')) return `"${text}": digest references are not supported here; use NAME[:TAG] or the image id`;
  return undefined;
}

/** Parses NAME[:TAG]; `field` names the option or argument in the error. */
export function parseImageRef(text: string, field = 'image'): ImageRef {
  const problem = refProblem(text);
  if (problem) throw new InputError(field, problem);
  const slash = text.lastIndexOf('/');
  const colon = text.lastIndexOf(':');
  let name = text;
  let tag = DEFAULT_TAG;
  if (colon > slash) {
    name = text.slice(0, colon);
    tag = text.slice(colon + 1);
    if (!TAG.test(tag)) throw new InputError(field, `"${text}": invalid tag "${tag}" (letters, digits, _ . -, at most 128, not starting with . or -)`);
  }
  const parts = name.split('/');
  // The first component is a registry host when it looks like one (a dot, a port, localhost).
  let domain: string | undefined;
  if (parts.length > 1 && (parts[0].includes('.') || parts[0].includes(':') || parts[0] === 'localhost')) {
    domain = parts.shift()!;
    if (!DOMAIN.test(domain)) throw new InputError(field, `"${text}": invalid registry host "${domain}"`);
  }
  for (const part of parts) {
    if (!COMPONENT.test(part)) {
      throw new InputError(field, `"${text}": invalid name component "${part}" (lowercase letters, digits and separators . _ __ -)`);
    }
  }
  if (domain === 'docker.io' || domain === 'index.docker.io') domain = undefined;
  if (!domain && parts.length === 2 && parts[0] === 'library') parts.shift();
  const normalized = [...(domain ? [domain] : []), ...parts].join('/');
  if (normalized.length > MAX_NAME) throw new InputError(field, `"${text}": the name is longer than ${MAX_NAME} characters`);
  return { name: normalized, tag };
}

export function formatRef(ref: ImageRef): string {
  return `${ref.name}:${ref.tag}`;
}

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
