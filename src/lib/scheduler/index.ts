/**
 * The scheduler: a pure core (no sockets, no timers, no I/O). The manager's Placer (manager/scheduling.ts)
 * builds NodeSnapshots from its engine caches and its reservations, turns a create body into a
 * ContainerRequest, calls placeContainer and reserves the chosen node in the same synchronous call,
 * holding it until the engine create returns.
 */
export type {
  ContainerRequest,
  ContainerSnapshot,
  JsonObject,
  NodeSnapshot,
  PortBinding,
} from './types';

export {
  compileValue,
  ExpressionError,
  formatExpression,
  formatExpressionWithSoft,
  matchExpression,
  parseExpression,
} from './expression';

export {
  addAffinity,
  addConstraint,
  AFFINITIES_LABEL,
  CONSTRAINTS_LABEL,
  engineCreateBody,
  GLOBAL_ENV_KEY,
  GLOBAL_ID_LABEL,
  GLOBAL_LABEL,
  goJson,
  hasHardNodeConstraint,
  parseBuildRequest,
  parseCreateRequest,
  RESCHEDULE_POLICIES_LABEL,
  SWARM_ID_LABEL,
  validateReschedulePolicies,
  WHITELISTS_LABEL,
  withLabel,
} from './request';

export * from './filters/index';
export * from './strategies/index';

export { explainRejections } from './explain';

export { placeContainer } from './place';
export type { PlaceFailure, PlaceOptions, PlaceResult } from './place';

export {
  applyLocalityRules,
  applyLocalNetworkRule,
  applyLocalVolumeRule,
  imageAffinityRetry,
  isImageNotFoundError,
  namedVolumes,
  networkRequirements,
  osMismatchOs,
  osMismatchRetry,
} from './implicit';
export type { LocalNetwork, Locality } from './implicit';

export { globalIdOf, globalPlacement, isGlobalCreateBody, noGlobalTargetMessage, parseGlobalValue, validateGlobal } from './global';

export { clusterHasImage } from './lookup';
export { imageMatches, parseRepositoryTag } from './reference';
export { containerCpus, cpusToShares, overcommitPercent, requestedCpus, sharesToCpus, withOvercommit } from './resources';
