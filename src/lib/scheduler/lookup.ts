/**
 * Finding a container or an image on a node the way Swarm v1 resolves references
 * (cluster.Containers.Get, cluster.Image.Match, ParseRepositoryTag).
 */
import { SWARM_ID_LABEL } from './request';
import type { ContainerSnapshot, ImageSnapshot, NodeSnapshot } from './types';

/** Docker's short ID: 12 characters, after any `sha256:`-style prefix. */
export function truncateId(id: string): string {
  const colon = id.indexOf(':');
  const bare = colon >= 0 ? id.slice(colon + 1) : id;
  return bare.slice(0, 12);
}

/**
 * The container `idOrName` designates on `node`: exact or short ID, exact or short Swarm ID
 * (com.docker.swarm.id), name (`name`, `/name`, `<node id>/name`, `<node name>/name`; must be unique),
 * then a unique ID prefix, then a unique Swarm ID prefix. Undefined when none or ambiguous.
 */
export function findContainer(node: NodeSnapshot, idOrName: string): ContainerSnapshot | undefined {
  if (idOrName === '') return undefined;
  const containers = node.containers;
  for (const c of containers) if (c.id === idOrName || truncateId(c.id) === idOrName) return c;
  for (const c of containers) {
    const swarmId = ownValue(c.labels, SWARM_ID_LABEL);
    if (swarmId && (swarmId === idOrName || truncateId(swarmId) === idOrName)) return c;
  }
  const byName = containers.filter((c) =>
    c.names.some((n) => {
      const bare = n.replace(/^\//, '');
      return bare === idOrName || `/${bare}` === idOrName || `${node.id}/${bare}` === idOrName || `${node.name}/${bare}` === idOrName;
    }),
  );
  if (byName.length === 1) return byName[0];
  if (byName.length > 1) return undefined;
  const byId = containers.filter((c) => c.id.startsWith(idOrName));
  if (byId.length === 1) return byId[0];
  if (byId.length > 1) return undefined;
  const bySwarmId = containers.filter((c) => (ownValue(c.labels, SWARM_ID_LABEL) ?? '').startsWith(idOrName));
  return bySwarmId.length === 1 ? bySwarmId[0] : undefined;
}

/** v1's ParseRepositoryTag: `repo@digest` → [repo, digest]; `repo:tag` → [repo, tag]; `host:5000/repo` → [it, '']. */
export function parseRepositoryTag(ref: string): [string, string] {
  const at = ref.indexOf('@');
  if (at >= 0) return [ref.slice(0, at), ref.slice(at + 1)];
  const colon = ref.lastIndexOf(':');
  if (colon < 0) return [ref, ''];
  const tag = ref.slice(colon + 1);
  return tag.includes('/') ? [ref, ''] : [ref.slice(0, colon), tag];
}

/** `docker.io/library/redis` and `redis` are the same repository. */
function normalizeRepo(repo: string): string {
  return repo.replace(/^(docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, '').replace(/^library\//, '');
}

/**
 * Whether `image` is what `ref` names: its ID (exact, with or without `sha256:`, or a prefix of more than
 * two characters), or a repo tag / digest (a reference without tag matches any tag of the repository).
 */
export function imageMatches(image: ImageSnapshot, ref: string): boolean {
  if (ref === '') return false;
  const bareId = image.id.includes(':') ? image.id.slice(image.id.indexOf(':') + 1) : image.id;
  if (image.id === ref || bareId === ref) return true;
  if (ref.length > 2 && (image.id.startsWith(ref) || bareId.startsWith(ref))) return true;
  const [repo, tag] = parseRepositoryTag(ref);
  const wanted = normalizeRepo(repo);
  for (const t of [...image.repoTags, ...image.repoDigests]) {
    const [r, rt] = parseRepositoryTag(t);
    if (normalizeRepo(r) === wanted && (tag === '' || rt === tag)) return true;
  }
  return false;
}

/** True when some node holds an image matching `ref` (v1's `c.Image(config.Image) != nil`). */
export function clusterHasImage(nodes: readonly NodeSnapshot[], ref: string): boolean {
  return nodes.some((n) => n.images.some((i) => imageMatches(i, ref)));
}

/** `record[key]` for own keys only (so `constructor` or `__proto__` never reads the prototype). */
export function ownValue(record: Record<string, string>, key: string): string | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
