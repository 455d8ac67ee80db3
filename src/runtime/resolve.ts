// Finds the program a container runs before anything is created, so a missing command is a
// clear error that leaves nothing behind. (The child searches the same way at execve.)
import { accessSync, constants, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { EXIT_CANNOT_RUN, EXIT_NOT_FOUND, StartFailed } from '../errors.js';

function executableProblem(path: string): 'missing' | 'directory' | 'not executable' | null {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 'missing';
  }
  if (st.isDirectory()) return 'directory';
  try {
    accessSync(path, constants.X_OK);
  } catch {
    return 'not executable';
  }
  return null;
}

/**
 * The absolute path of `program` for a process whose PATH is `searchPath` and whose working
 * directory is `cwd`. `who` names the container in errors.
 */
export function resolveProgram(program: string, searchPath: string, cwd: string, who: string): string {
  if (program.includes('/')) {
    const path = resolvePath(cwd, program);
    const problem = executableProblem(path);
    if (problem === 'missing') throw new StartFailed(`${who}: command not found: ${path} does not exist`, EXIT_NOT_FOUND);
    if (problem)
      throw new StartFailed(
        `${who}: cannot run ${path}: it is ${problem === 'directory' ? 'a directory' : 'not executable'}`,
        EXIT_CANNOT_RUN,
      );
    return path;
  }
  let denied: string | undefined;
  for (const dir of searchPath.split(':')) {
    const path = resolvePath(cwd, dir || '.', program);
    const problem = executableProblem(path);
    if (!problem) return path;
    if (problem === 'not executable') denied ??= path;
  }
  if (denied) throw new StartFailed(`${who}: cannot run ${denied}: it is not executable`, EXIT_CANNOT_RUN);
  throw new StartFailed(`${who}: command not found: "${program}" is not in PATH=${searchPath}`, EXIT_NOT_FOUND);
}
