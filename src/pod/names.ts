// Names become hostnames and, later, paths under the state directory: they are checked before
// anything uses them.
import { InputError } from '../errors.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Why `name` is not a DNS-1123 label (as Kubernetes requires of container names), or null. */
export function dns1123LabelProblem(name: string): string | null {
  if (name.length === 0) return 'must not be empty';
  if (name.length > 63) return `"${name}" is longer than 63 characters`;
  if (!DNS1123_LABEL.test(name)) {
    return `"${name}" is not a DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit)`;
  }
  return null;
}

/** `name` itself when it is a DNS-1123 label; else an InputError that names `field`. */
export function checkLabel(field: string, name: string): string {
  const problem = dns1123LabelProblem(name);
  if (problem) throw new InputError(field, problem);
  return name;
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** Why `name` cannot be an environment variable name (Kubernetes' rule), or null. */
export function envNameProblem(name: string): string | null {
  if (!ENV_NAME.test(name)) {
    return `"${name}" is not a valid environment variable name (letters, digits, '_', '-' and '.', not starting with a digit)`;
  }
  return null;
}

const OBJECT_KEY = /^[-._a-zA-Z0-9]+$/;

/** Why `key` cannot be a ConfigMap or Secret key (Kubernetes' rule: it becomes a file name), or null. */
export function keyProblem(key: string): string | null {
  if (key.length === 0 || key.length > 253) return `"${key}" must be 1 to 253 characters`;
  if (!OBJECT_KEY.test(key)) return `"${key}" may hold only letters, digits, '-', '_' and '.'`;
  if (key === '.' || key === '..' || key.startsWith('..')) return `"${key}" must not be "." or start with ".."`;
  return null;
}
