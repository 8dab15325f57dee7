/** One engine's images: the four it starts with, what a pull adds, and how references find them. */
import { ApiError } from '../../src/lib/errors';
import { labelsMatch, parseFilters, truthy } from '../../src/lib/api/respond';
import { pathMatch } from '../../src/lib/api/path-match';
import { engineReads, normalizeImageRef, parseRepositoryTag } from '../../src/lib/scheduler/reference';
import type { EngineProfile } from '../payloads/profile';
import { checkFilterKeys } from './filters';
import { asObject, asStringMap, type Json, type JsonObject } from './json';
import type { Container, Image } from './model';
import { isoTime, sha256, ZERO_TIME, type Rng } from './random';

const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

interface ImageTemplate {
  tag: string;
  size: number;
  created: string;
  config: JsonObject;
}

const IMAGE_TEMPLATES: ImageTemplate[] = [
  { tag: 'busybox:latest', size: 4_261_550, created: '2023-07-18T23:19:33.655005962Z', config: { Env: [PATH_ENV], Cmd: ['sh'] } },
  {
    tag: 'nginx:latest',
    size: 187_694_648,
    created: '2023-10-24T20:36:43.524154573Z',
    config: {
      ExposedPorts: { '80/tcp': {} },
      Env: [PATH_ENV, 'NGINX_VERSION=1.25.3', 'NJS_VERSION=0.8.2', 'PKG_RELEASE=1~bookworm'],
      Cmd: ['nginx', '-g', 'daemon off;'],
      Entrypoint: ['/docker-entrypoint.sh'],
      Labels: { maintainer: 'NGINX Docker Maintainers <docker-maint@nginx.com>' },
      StopSignal: 'SIGQUIT',
    },
  },
  {
    tag: 'redis:7-alpine',
    size: 40_957_402,
    created: '2023-11-01T01:54:12.512237151Z',
    config: {
      ExposedPorts: { '6379/tcp': {} },
      Env: [PATH_ENV, 'REDIS_VERSION=7.2.3'],
      Cmd: ['redis-server'],
      Entrypoint: ['docker-entrypoint.sh'],
      Volumes: { '/data': {} },
      WorkingDir: '/data',
    },
  },
  { tag: 'alpine:3.19', size: 7_378_663, created: '2023-12-07T22:23:46.283513335Z', config: { Env: [PATH_ENV], Cmd: ['/bin/sh'] } },
];

function makeImage(t: ImageTemplate): Image {
  const hex = sha256(`image:${t.tag}`);
  const [repo] = parseRepositoryTag(t.tag);
  return {
    id: `sha256:${hex}`,
    tags: [t.tag],
    digests: [`${repo}@sha256:${sha256(`digest:${t.tag}`)}`],
    size: t.size,
    created: t.created,
    createdSec: Math.floor(Date.parse(t.created) / 1000),
    config: t.config,
    layers: [`sha256:${sha256(`layer:${t.tag}`)}`],
  };
}

/** busybox:latest, nginx:latest, redis:7-alpine, alpine:3.19: the images index 0 to 3 of every engine. */
export function initialImages(): Image[] {
  return IMAGE_TEMPLATES.map(makeImage);
}

/** The docker/distribution reference grammar (lower-case path components, optional tag and digest). */
export function validReference(ref: string): boolean {
  return /^[a-z0-9]+(?:[._-][a-z0-9]+|__)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/.test(ref);
}

/** The image a reference names: a tag (untagged means :latest, as dockerd), a digest, or an ID or its prefix. */
export function findImage(images: readonly Image[], ref: string): Image | undefined {
  return images.find((i) => engineReads({ Id: i.id, RepoTags: i.tags, RepoDigests: i.digests }, ref));
}

export function imageNotFound(ref: string): ApiError {
  const hex = ref.startsWith('sha256:') ? ref.slice(7) : ref;
  return new ApiError(404, `No such image: ${/^[0-9a-f]{12,64}$/.test(hex) || ref.includes('@') ? ref : normalizeImageRef(ref)}`);
}

/** What a pull adds: an image of some size and age (nothing is downloaded). */
export function pulledImage(tag: string, rng: Rng): Image {
  return makeImage({
    tag,
    size: 5_000_000 + rng.int(100_000_000),
    created: isoTime(Date.now() - 86_400_000 * (1 + rng.int(300))),
    config: { Env: [PATH_ENV], Cmd: ['/bin/sh'] },
  });
}

/** The `docker pull` progress lines, as one fresh or up-to-date pull prints them. */
export function pullProgress(image: Image, tag: string, fresh: boolean): JsonObject[] {
  const [repo, version] = parseRepositoryTag(tag);
  const from = { status: `Pulling from ${repo.includes('/') ? repo : `library/${repo}`}`, id: version };
  const digest = { status: `Digest: ${(image.digests[0] ?? '').split('@')[1] ?? ''}` };
  if (!fresh) return [from, digest, { status: `Status: Image is up to date for ${tag}` }];
  const layer = (image.layers[0] ?? '').slice(7, 19);
  return [
    from,
    { status: 'Pulling fs layer', progressDetail: {}, id: layer },
    { status: 'Downloading', progressDetail: { current: image.size, total: image.size }, progress: '', id: layer },
    { status: 'Download complete', progressDetail: {}, id: layer },
    { status: 'Pull complete', progressDetail: {}, id: layer },
    digest,
    { status: `Status: Downloaded newer image for ${tag}` },
  ];
}

/** GET /images/json: newest first, in the profile's engine's fields. */
export function imageList(images: readonly Image[], containers: Iterable<Container>, q: URLSearchParams, p: EngineProfile): JsonObject[] {
  const f = parseFilters(q.get('filters'));
  checkFilterKeys(f, ['dangling', 'label', 'before', 'since', 'reference']);
  const refs = f.get('reference');
  const out: JsonObject[] = [];
  const used = new Map<string, number>();
  for (const c of containers) used.set(c.imageId, (used.get(c.imageId) ?? 0) + 1);
  for (const img of [...images].reverse()) {
    if (f.get('dangling')?.includes('true') && img.tags.length) continue;
    if (!labelsMatch(asStringMap(img.config.Labels), f.get('label') ?? [])) continue;
    // Docker's FamiliarMatch: the glob against the whole tag or its repository.
    if (refs && !refs.some((r) => img.tags.some((t) => pathMatch(r, t) || pathMatch(r, parseRepositoryTag(t)[0])))) continue;
    const entry: JsonObject = {
      Containers: truthy(q.get('shared-size')) ? (used.get(img.id) ?? 0) : -1,
      Created: img.createdSec,
      Id: img.id,
      Labels: asObject(img.config.Labels) ?? null,
      ParentId: '',
      RepoDigests: img.digests,
      RepoTags: img.tags,
      SharedSize: -1,
      Size: img.size,
      VirtualSize: img.size,
    };
    // The fields of the profile's engine only (API 1.44 dropped VirtualSize).
    const shown: JsonObject = {};
    for (const k of p.imageSummaryKeys) if (k in entry) shown[k] = entry[k] as Json;
    out.push(shown);
  }
  return out;
}

/** GET /images/{name}/json, in the profile's engine's fields. */
export function imageInspect(img: Image, p: EngineProfile): JsonObject {
  const cfg: JsonObject = {
    Hostname: '',
    Domainname: '',
    User: '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: null,
    Cmd: null,
    Image: `sha256:${sha256(`parent:${img.id}`)}`,
    Volumes: null,
    WorkingDir: '',
    Entrypoint: null,
    OnBuild: null,
    Labels: null,
    ...img.config,
  };
  const dir = `/var/lib/docker/overlay2/${img.id.slice(7)}`;
  const full: JsonObject = {
    Id: img.id,
    RepoTags: img.tags,
    RepoDigests: img.digests,
    Parent: '',
    Comment: '',
    Created: img.created,
    Container: sha256(`container:${img.id}`),
    ContainerConfig: { ...cfg, Cmd: ['/bin/sh', '-c', `#(nop) CMD ${JSON.stringify(img.config.Cmd ?? [])}`] },
    DockerVersion: '20.10.23',
    Author: '',
    Config: cfg,
    Architecture: 'amd64',
    Os: 'linux',
    Size: img.size,
    VirtualSize: img.size,
    GraphDriver: { Data: { MergedDir: `${dir}/merged`, UpperDir: `${dir}/diff`, WorkDir: `${dir}/work` }, Name: 'overlay2' },
    RootFS: { Type: 'layers', Layers: img.layers },
    Metadata: { LastTagTime: ZERO_TIME },
  };
  const out: JsonObject = {};
  for (const k of Object.keys(p.imageInspect)) if (k in full) out[k] = full[k] as Json;
  return out;
}
