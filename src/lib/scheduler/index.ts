/**
 * The scheduler: a pure core (no sockets, no timers, no I/O). The manager builds NodeSnapshots from its
 * engine caches, turns a create body into a ContainerRequest, and calls placeContainer under its
 * scheduling lock, holding the chosen node with a pending reservation until the engine create returns.
 */
export type {
  ContainerRequest,
  ContainerSnapshot,
  ImageSnapshot,
  JsonObject,
  JsonValue,
  LocalityRequirement,
  NodeSnapshot,
  PortBinding,
} from './types';

export {
  compileExpression,
  compileValue,
  ExpressionError,
  formatExpression,
  formatExpressionWithSoft,
  matchExpression,
  OPERATORS,
  parseExpression,
  parseExpressions,
} from './expression';
export type { Expression, Operator } from './expression';

export {
  addAffinity,
  addConstraint,
  addWhitelist,
  AFFINITIES_LABEL,
  CONSTRAINTS_LABEL,
  containerCpus,
  cpusToShares,
  engineCreateBody,
  GLOBAL_ENV_KEY,
  GLOBAL_ID_LABEL,
  GLOBAL_LABEL,
  goJson,
  hasHardNodeConstraint,
  hasReschedulePolicy,
  parseBuildRequest,
  parseCreateRequest,
  requestedCpus,
  RequestError,
  RESCHEDULE_POLICIES,
  RESCHEDULE_POLICIES_LABEL,
  sharesToCpus,
  SWARM_ID_LABEL,
  SWARM_LABEL_NAMESPACE,
  validateReschedulePolicies,
  WHITELISTS_LABEL,
  withLabel,
  withNetworkMode,
} from './request';

export * from './filters/index';
export * from './strategies/index';

export { explainRejections } from './explain';
export type { ExplainOptions } from './explain';

export { listConditions, NO_NODES_AVAILABLE, placeContainer, UNSATISFIED_PREFIX } from './place';
export type { PlaceOptions, Placement, PlacementError, PlacementErrorKind } from './place';

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
export type { LocalNetwork, Locality, LocalVolume } from './implicit';

export { globalIdOf, globalPlacement, isGlobalCreateBody, noGlobalTargetMessage, parseGlobalValue, validateGlobal } from './global';
export type { GlobalPlacement } from './global';

export { clusterHasImage, findContainer, imageMatches, parseRepositoryTag, truncateId } from './lookup';

export {
  addPendingContainer,
  checkNameAvailable,
  nameConflictMessage,
  pendingContainer,
  Reservations,
} from './reservations';
export type { Reservation } from './reservations';
