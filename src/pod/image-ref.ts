// Image names: NAME[:TAG], checked with docker's grammar and normalized as docker shows them
// ("docker.io/library/nginx" and "library/nginx" are "nginx"), so the names a docker save
// tarball and an OCI layout give for one image are the same name here. Part of the pod model:
// a container names its image, and a manifest's image field is checked with it.
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
    if (!TAG.test(tag))
      throw new InputError(field, `"${text}": invalid tag "${tag}" (letters, digits, _ . -, at most 128, not starting with . or -)`);
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
