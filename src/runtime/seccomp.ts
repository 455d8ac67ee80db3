// The seccomp filter a container's processes get, compiled when one starts (a Localhost profile
// is read again at every start, as the kubelet does) and kept by content: a pod's restarts and
// execs, and pods alike, compile each distinct filter once.
import { InputError } from '../errors.js';
import type { CompiledSeccomp, NativeBinding, SeccompFilter } from '../native/binding.js';
import { profileFileFilter, profileTextFilter, readProfile, runtimeDefaultFilter, type SeccompPolicy } from '../pod/seccomp.js';

/** What a container's filter is made from: its profile and the capabilities it holds. */
export interface SeccompSource {
  policy: SeccompPolicy;
  capabilities: string[];
}

const compiled = new Map<string, CompiledSeccomp>();
const KEEP = 32;

export function seccompFilterOf(source: SeccompSource): SeccompFilter {
  const { policy, capabilities } = source;
  return policy.type === 'RuntimeDefault' ? runtimeDefaultFilter(capabilities) : profileFileFilter(policy.file, { capabilities });
}

/**
 * The filter as the kernel loads it; a profile libseccomp cannot compile is an InputError naming
 * the field. Kept by what it is made from (the profile's text, the capabilities), so that a
 * container's start costs neither the filter's making nor its compiling a second time.
 */
export function compileSeccomp(binding: Pick<NativeBinding, 'compileSeccomp'>, source: SeccompSource): CompiledSeccomp {
  const { policy, capabilities } = source;
  const text = policy.type === 'Localhost' ? readProfile(policy.file) : '';
  const key = `${policy.type} ${capabilities.join(',')} ${policy.type === 'Localhost' ? `${policy.file}\n${text}` : ''}`;
  let program = compiled.get(key);
  if (program) return program;
  const filter = policy.type === 'Localhost' ? profileTextFilter(text, policy.file, { capabilities }) : runtimeDefaultFilter(capabilities);
  try {
    program = binding.compileSeccomp(filter);
  } catch (err) {
    throw compileError(err as Error & { rule?: number; nameIndex?: number }, filter, source.policy);
  }
  // The kernel's limit (BPF_MAXINSNS): a bigger filter would fail at the start, not here.
  if (program.program.length / 8 > 4096) {
    const file = source.policy.type === 'Localhost' ? source.policy.file : 'RuntimeDefault';
    throw new InputError('syscalls', `compiles to ${program.program.length / 8} instructions; the kernel loads at most 4096`, file);
  }
  if (compiled.size >= KEEP) compiled.delete(compiled.keys().next().value!);
  compiled.set(key, program);
  return program;
}

function compileError(err: Error & { rule?: number; nameIndex?: number }, filter: SeccompFilter, policy: SeccompPolicy): Error {
  const file = policy.type === 'Localhost' ? policy.file : 'RuntimeDefault';
  const rule = err.rule === undefined || err.rule < 0 ? undefined : (filter.rules[err.rule] as { where?: string; names: string[] });
  if (!rule) return new InputError('seccomp profile', err.message.replace(/^compileSeccomp: /, ''), file);
  if (err.nameIndex !== undefined) {
    return new InputError(
      `${rule.where ?? 'syscalls'}.names`,
      `"${rule.names[err.nameIndex]}" is not a system call libseccomp knows`,
      file,
    );
  }
  return new InputError(rule.where ?? 'syscalls', err.message.replace(/^compileSeccomp: /, ''), file);
}
