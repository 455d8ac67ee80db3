// tspod as a library: the pod model, the pod runtime, and the addon's system calls for
// namespace experiments; the layers above them (state, the host that the monitor runs, the
// monitor's client, networks, storage, images) for tools built on tspod.
export { TspodError, InputError } from './errors.js';
export * from './native/binding.js';
export * from './pod/spec.js';
export { podFromManifest, parseManifestText, loadManifest } from './pod/manifest.js';
export { containerEnv, containerArgv, expandVars, DEFAULT_PATH } from './pod/env.js';
export {
  CAPABILITIES,
  DEFAULT_CAPABILITIES,
  MASKED_PATHS,
  READONLY_PATHS,
  NO_CAPABILITIES,
  capabilityNames,
  capabilitySets,
} from './pod/security.js';
export { runtimeDefaultFilter, profileFilter, profileFileFilter, seccompPolicy, type SeccompPolicy } from './pod/seccomp.js';
export { compileSeccomp, seccompFilterOf, type SeccompSource } from './runtime/seccomp.js';
export { SAFE_SYSCTLS, checkSysctls, sysctlPath } from './pod/sysctls.js';
export { checkPodNamespaces, namespaceSource, timeOffsetsOption, timensOffsetsText } from './pod/namespaces.js';
export {
  POD_IDS,
  DEFAULT_USERNS_RANGE,
  NAMESPACE_ROOT,
  allocateIdRange,
  checkUserNamespace,
  hostId,
  idMapText,
  joinedIdRange,
  usernsRangeOption,
} from './pod/userns.js';
export { checkIdmappedMounts, createPodUserNamespace, openUserNamespace, podUserNamespace, userNamespaceMaps } from './runtime/userns.js';
export { objectFromManifest, podObjects, type StoredObject, type PodObjects } from './pod/objects.js';
export { ObjectStore } from './state/objects.js';
export { findV2Hierarchy, findV1Controllers, type V2Hierarchy } from './cgroup/hierarchy.js';
export { PodCgroups, DEFAULT_CGROUP_ROOT, type PodCgroupsRecord } from './cgroup/pod.js';
export { startInfra, infraRequest, type InfraOptions } from './runtime/infra.js';
export { planContainer, startContainer, containerRequest, spawnInUserNamespace, type ContainerLaunch } from './runtime/container.js';
export { execInContainer, type ExecOptions } from './runtime/exec.js';
export { PodProcess, describeExit, statusCode, signalName } from './runtime/process.js';
export { LoggingIO, type LoggingOptions, type PodIO, type ProcessIO, type OutputTee } from './runtime/io.js';
export { KUBELET_BACKOFF, nextDelay, type Backoff, type Clock } from './runtime/backoff.js';
export * from './runtime/pod.js';
export { PodNetwork, type NetworkOptions } from './net/network.js';
export { PodStorage } from './storage/storage.js';
export { ImageStore, imageRoot, resolveImage } from './image/store.js';
export { StatePaths, stateRoot, DEFAULT_ROOT } from './state/paths.js';
export { StateStore } from './state/store.js';
export type { PodRecord, ContainerRecord, ExitRecord } from './state/records.js';
export { PodHost, type HostOptions, type CreateOptions, type SupervisorLog } from './supervisor/host.js';
export { releaseRecorded } from './supervisor/stale.js';
export { MonitorClient, monitorClient } from './monitor/client.js';
