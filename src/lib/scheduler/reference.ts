/**
 * References as Swarm v1 resolves them, the one rule for each: image references (repository, tag,
 * digest, registry with port; v1's ParseRepositoryTag and Image.Match), ID prefixes, and which
 * container a reference names (v1's Containers.Get) over any index of containers: a node's snapshot
 * (lookup.ts) or the cluster's engines (manager/cluster.ts).
 */

/** Docker's short IDs: 12 characters. */
export const SHORT_ID_LENGTH = 12;

/** An image ID prefix names an image only from this length on (v1: `len(IDOrName) > 2`). */
const MIN_IMAGE_ID_PREFIX = 3;

const DIGEST_ALGORITHM = 'sha256:';

/** Docker's short ID: 12 characters, after any `sha256:`-style prefix (stringid.TruncateID). */
export function truncateId(id: string): string {
  const colon = id.indexOf(':');
  const bare = colon >= 0 ? id.slice(colon + 1) : id;
  return bare.slice(0, SHORT_ID_LENGTH);
}

// ---- image references ---------------------------------------------------------------------------

export interface ImageRef {
  /** Everything before the tag or digest, registry included: `reg:5000/team/app`. */
  repository: string;
  /** The registry host (with port) when the reference names one: `reg:5000`, `localhost`; else ''. */
  registry: string;
  /** '' when none is written (the engine then reads `latest`). */
  tag: string;
  /** `sha256:…`, '' when none. */
  digest: string;
}

/**
 * `reg:5000/team/app:1.2@sha256:…` taken apart. A colon followed by a `/` is a registry port, not a
 * tag (v1's ParseRepositoryTag); the first component is a registry when it has a `.` or `:` or is
 * `localhost` (Docker's rule).
 */
export function parseImageRef(ref: string): ImageRef {
  const at = ref.indexOf('@');
  const digest = at >= 0 ? ref.slice(at + 1) : '';
  const named = at >= 0 ? ref.slice(0, at) : ref;
  const colon = named.lastIndexOf(':');
  const hasTag = colon >= 0 && !named.slice(colon + 1).includes('/');
  const repository = hasTag ? named.slice(0, colon) : named;
  const tag = hasTag ? named.slice(colon + 1) : '';
  const slash = repository.indexOf('/');
  const first = slash >= 0 ? repository.slice(0, slash) : '';
  const registry = first.includes('.') || first.includes(':') || first === 'localhost' ? first : '';
  return { repository, registry, tag, digest };
}

/** v1's ParseRepositoryTag: `repo@digest` → [repo, digest]; `repo:tag` → [repo, tag]; `host:5000/repo` → [it, '']. */
export function parseRepositoryTag(ref: string): [string, string] {
  const r = parseImageRef(ref);
  return [r.repository, r.digest || r.tag];
}

/** `docker.io/library/redis` and `redis` are the same repository: the short form the engine lists. */
function familiarRepository(repository: string): string {
  return repository.replace(/^(docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, '').replace(/^library\//, '');
}

/** A reference as the engine reads it, in its short form: `busybox` → `busybox:latest`, `docker.io/library/x@d` → `x@d`. */
export function normalizeImageRef(ref: string): string {
  const r = parseImageRef(ref);
  const repository = familiarRepository(r.repository);
  return r.digest ? `${repository}@${r.digest}` : `${repository}:${r.tag || 'latest'}`;
}

/** An image as the scheduler snapshots it or as an engine lists it. */
export type ImageNames = { id: string; repoTags: readonly string[]; repoDigests: readonly string[] } | { Id: string; RepoTags?: readonly string[] | null; RepoDigests?: readonly string[] | null };

/**
 * How an image answers a reference, best first: `id` (its ID, with or without `sha256:`, or an ID
 * prefix of 3 characters or more), `reference` (the tag or digest the engine reads the reference as:
 * untagged means `:latest`), `repository` (only another tag or digest of the same repository).
 */
export type ImageMatch = 'id' | 'reference' | 'repository';

const RANK: Record<ImageMatch, number> = { id: 0, reference: 0, repository: 1 };

function namesOf(image: ImageNames): [string, readonly string[], readonly string[]] {
  return 'Id' in image ? [image.Id, image.RepoTags ?? [], image.RepoDigests ?? []] : [image.id, image.repoTags, image.repoDigests];
}

/** How `image` answers `ref` (undefined: not at all). */
export function imageMatch(image: ImageNames, ref: string): ImageMatch | undefined {
  if (ref === '') return undefined;
  const [id, tags, digests] = namesOf(image);
  if (idMatches(id, ref)) return 'id';
  const want = parseImageRef(ref);
  const repository = familiarRepository(want.repository);
  let found: ImageMatch | undefined;
  for (const [list, isDigest] of [
    [tags, false],
    [digests, true],
  ] as const) {
    for (const t of list) {
      const have = parseImageRef(t);
      if (familiarRepository(have.repository) !== repository) continue;
      if (want.digest ? isDigest && have.digest === want.digest : !isDigest && have.tag === (want.tag || 'latest')) return 'reference';
      found = 'repository';
    }
  }
  return found;
}

/**
 * Whether `image` is what `ref` names, as v1's Image.Match(ref, true): by ID or reference; a reference
 * without tag or digest also names any tag of its repository. With `anyTag` (v1's matchTag=false), a
 * tagged reference does too.
 */
export function imageMatches(image: ImageNames, ref: string, anyTag = false): boolean {
  const m = imageMatch(image, ref);
  if (m !== 'repository') return m !== undefined;
  if (anyTag) return true;
  const r = parseImageRef(ref);
  return r.tag === '' && r.digest === '';
}

/** Whether an engine reads `ref` as this image: by ID, or as its tag (untagged: `:latest`) or digest, never another tag. */
export function engineReads(image: ImageNames, ref: string): boolean {
  const m = imageMatch(image, ref);
  return m === 'id' || m === 'reference';
}

/** Of `images`, the one `ref` names best (imageMatch order; the first of equals); undefined when none. */
export function bestImage<I extends ImageNames>(images: Iterable<I>, ref: string, anyTag = false): I | undefined {
  let best: I | undefined;
  let bestRank = Infinity;
  for (const image of images) {
    if (!imageMatches(image, ref, anyTag)) continue;
    const rank = RANK[imageMatch(image, ref)!];
    if (rank < bestRank) [best, bestRank] = [image, rank];
    if (rank === 0) break;
  }
  return best;
}

/** How well an engine's images answer `ref`: 0 as the engine reads it, 1 another tag of its repository, undefined not at all. */
export function imagesRank(images: Iterable<ImageNames>, ref: string): number | undefined {
  const best = bestImage(images, ref);
  return best === undefined ? undefined : RANK[imageMatch(best, ref)!];
}

/**
 * An image ID named in full (with or without `sha256:`) or by a prefix: 3 characters or more of the
 * bare ID, or any of the `sha256:` form past its algorithm (so `sha` alone names no image).
 */
function idMatches(id: string, ref: string): boolean {
  const bare = id.startsWith(DIGEST_ALGORITHM) ? id.slice(DIGEST_ALGORITHM.length) : id;
  if (ref === id || ref === bare) return true;
  if (ref.startsWith(DIGEST_ALGORITHM)) return ref.length > DIGEST_ALGORITHM.length && id.startsWith(ref);
  return ref.length >= MIN_IMAGE_ID_PREFIX && bare.startsWith(ref);
}

// ---- container references -----------------------------------------------------------------------

/** `name`, `/name` or `<node>/<name>` taken apart (node '' when none is written). */
export function parseContainerName(ref: string): { node: string; name: string } {
  const bare = ref.startsWith('/') ? ref.slice(1) : ref;
  const slash = bare.indexOf('/');
  return slash > 0 ? { node: bare.slice(0, slash), name: bare.slice(slash + 1) } : { node: '', name: bare };
}

/** Whether `ref` names a node: its name, its cluster ID (`<daemon id>|<addr>`) or its daemon ID. */
export function isNodeRef(node: { id: string; name: string }, ref: string): boolean {
  if (ref === '') return false;
  if (ref === node.name || ref === node.id) return true;
  const bar = node.id.indexOf('|');
  return bar > 0 && node.id.slice(0, bar) === ref;
}

/** What the container lookup asks of an index of containers (one node's, or every engine's). */
export interface ContainerKeys<C> {
  /** The container whose ID is `id`. */
  withId(id: string): C | undefined;
  /** Containers whose ID starts with `prefix`, in index order (two are enough to tell it ambiguous). */
  withIdPrefix(prefix: string): C[];
  /** Containers whose swarm ID (`com.docker.swarm.id`) is `sid`. */
  withSwarmId(sid: string): C[];
  /** Containers whose swarm ID starts with these 12 characters (or is them). */
  withShortSwarmId(short: string): C[];
  /** Containers whose primary name is `name`. */
  named(name: string): C[];
  /** Containers named `name` on the node `node` names (isNodeRef). */
  namedOnNode(node: string, name: string): C[];
  /** The distinct swarm IDs that start with `prefix`. */
  swarmIdsWithPrefix(prefix: string): Iterable<string>;
  /** Of containers sharing one swarm ID (a rescheduled container and its stale copy), the one meant. */
  liveCopy(copies: C[]): C;
}

/**
 * The container `ref` names, in v1's order (spec §3.1): exact ID or its unique short (12-character)
 * ID; swarm ID, full or 12 characters (several copies: the live one); name, `/name` or
 * `<node>/<name>` (must be unique); a unique ID prefix; a unique swarm ID prefix. Undefined when none
 * or ambiguous.
 */
export function lookupContainer<C>(keys: ContainerKeys<C>, ref: string): C | undefined {
  if (ref === '') return undefined;
  const exact = keys.withId(ref);
  if (exact !== undefined) return exact;
  if (ref.length === SHORT_ID_LENGTH) {
    const short = keys.withIdPrefix(ref);
    if (short.length === 1) return short[0];
  }
  const bySwarmId = ref.length === SHORT_ID_LENGTH ? keys.withShortSwarmId(ref) : keys.withSwarmId(ref);
  if (bySwarmId.length) return keys.liveCopy(bySwarmId);
  const { node, name } = parseContainerName(ref);
  const byName = node ? keys.namedOnNode(node, name) : keys.named(name);
  if (byName.length) return byName.length === 1 ? byName[0] : undefined;
  const byPrefix = keys.withIdPrefix(ref);
  if (byPrefix.length) return byPrefix.length === 1 ? byPrefix[0] : undefined;
  let only: string | undefined;
  for (const sid of keys.swarmIdsWithPrefix(ref)) {
    if (only !== undefined) return undefined;
    only = sid;
  }
  return only === undefined ? undefined : keys.liveCopy(keys.withSwarmId(only));
}
