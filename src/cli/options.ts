// Checks of CLI option values, in one place. Each error names the option.
import { accessSync, constants, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { InputError } from '../errors.js';
import { dns1123LabelProblem, envNameProblem } from '../pod/names.js';
import { SHAREABLE, type EnvVar, type SharedNamespace } from '../pod/spec.js';

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function labelOption(option: string, value: string): string {
  const problem = dns1123LabelProblem(value);
  if (problem) throw new InputError(option, problem);
  return value;
}

export function shareOption(value: string): SharedNamespace[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!(SHAREABLE as readonly string[]).includes(item)) {
      throw new InputError('--share', `"${item}" is not a namespace a pod can share (${SHAREABLE.join(', ')})`);
    }
  }
  return SHAREABLE.filter((ns) => items.includes(ns));
}

export function envOption(values: string[]): EnvVar[] {
  return values.map((kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new InputError('-e', `"${kv}" is not KEY=VALUE`);
    const name = kv.slice(0, eq);
    const problem = envNameProblem(name);
    if (problem) throw new InputError('-e', problem);
    return { name, value: kv.slice(eq + 1) };
  });
}

export function secondsOption(option: string, value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new InputError(option, `"${value}" is not a whole number of seconds`);
  }
  return Number(value);
}

/** An executable file, as an absolute path. */
export function programOption(option: string, value: string): string {
  const path = resolve(value);
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    throw new InputError(option, `${path} does not exist`);
  }
  if (!isFile) throw new InputError(option, `${path} is not a regular file`);
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new InputError(option, `${path} is not executable`);
  }
  return path;
}
