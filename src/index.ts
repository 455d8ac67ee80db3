// tspod as a library: the pod model, the pod runtime, and the addon's system calls for
// namespace experiments.
export { TspodError, InputError } from './errors.js';
export * from './native/binding.js';
export * from './pod/spec.js';
export { podFromManifest, parseManifestText, loadManifest } from './pod/manifest.js';
export { containerEnv, containerArgv, expandVars, DEFAULT_PATH } from './pod/env.js';
export { startInfra, infraRequest, type InfraOptions } from './runtime/infra.js';
export { startContainer, containerRequest, type ContainerLaunch } from './runtime/container.js';
export { PodProcess, describeExit, statusCode, signalName } from './runtime/process.js';
export * from './runtime/pod.js';
