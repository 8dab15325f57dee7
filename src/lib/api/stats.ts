/**
 * `GET /containers/{id}/stats` (`docker stats`): the engine's stream passed on as it comes, each
 * sample's `name` made `/<node>/<name>`, so the CLI's NAME column reads `node-1/web` as `docker ps`
 * does. `docker stats` without names lists the running containers of every node (the cluster list),
 * asks each one's stats here, and follows `/events?filters={"type":["container"]}` for starts and
 * deaths, which the cluster stream serves for every node.
 */
import type http from 'node:http';
import { unreachableMessage } from '../engine/health';
import { errorBodyMessage, readAll } from '../engine/http';
import { requireContainer } from './containers';
import { ApiError } from '../errors';
import { baseHeaders } from './respond';
import type { RequestCtx } from './router';

/** Index of the `"` that closes the JSON string opening at `start`. */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i;
  }
  return -1;
}

/**
 * One stats sample (a JSON object on one line) with its top-level `name` node-qualified. Only that
 * string is replaced: the rest stays byte for byte, since the counters are uint64s that a parse and
 * re-encode through JavaScript numbers would round.
 */
export function qualifyStatsName(line: string, node: string): string {
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      const end = stringEnd(line, i);
      if (end < 0) return line;
      if (depth === 1 && expectKey) {
        expectKey = false;
        if (line.slice(i + 1, end) === 'name') {
          let j = end + 1;
          while (j < line.length && (line[j] === ':' || line[j] === ' ' || line[j] === '\t')) j++;
          if (line[j] !== '"') return line;
          const vend = stringEnd(line, j);
          if (vend < 0) return line;
          let name: unknown;
          try {
            name = JSON.parse(line.slice(j, vend + 1));
          } catch {
            return line;
          }
          if (typeof name !== 'string' || name === '') return line;
          const qualified = `/${node}${name.startsWith('/') ? name : `/${name}`}`;
          return line.slice(0, j) + JSON.stringify(qualified) + line.slice(vend + 1);
        }
      }
      i = end;
    } else if (c === '{' || c === '[') {
      depth++;
      expectKey = c === '{' && depth === 1;
    } else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 1) expectKey = true;
  }
  return line;
}

export async function containerStats(ctx: RequestCtx): Promise<void> {
  const { engine, container } = requireContainer(ctx.cluster, ctx.params.name!);
  ctx.req.resume();
  const abort = new AbortController();
  const res = ctx.res;
  res.on('close', () => abort.abort());
  let up: http.IncomingMessage;
  try {
    up = await engine.open('GET', `/containers/${container.id}/stats${ctx.search}`, { signal: abort.signal });
  } catch (err) {
    if (abort.signal.aborted) return;
    throw new ApiError(500, unreachableMessage(engine, err));
  }
  const status = up.statusCode ?? 502;
  if (status !== 200) throw new ApiError(status, errorBodyMessage(await readAll(up)));
  const headers: Record<string, string> = { ...baseHeaders(), 'Content-Type': String(up.headers['content-type'] ?? 'application/json') };
  if (typeof up.headers.ostype === 'string') headers.Ostype = up.headers.ostype;
  res.writeHead(200, headers);
  res.flushHeaders();
  await new Promise<void>((resolve) => {
    let rest = '';
    up.setEncoding('utf8');
    // Samples are newline-delimited (Go's json.Encoder); a sample split across chunks waits for its end.
    up.on('data', (chunk: string) => {
      rest += chunk;
      const nl = rest.lastIndexOf('\n');
      if (nl < 0) return;
      const lines = rest.slice(0, nl).split('\n');
      rest = rest.slice(nl + 1);
      const out = lines.map((l) => (l.trim() ? qualifyStatsName(l, engine.name) : l)).join('\n') + '\n';
      if (res.destroyed) return;
      // Back-pressure: a slow client pauses the engine's stream.
      if (!res.write(out)) {
        up.pause();
        res.once('drain', () => up.resume());
      }
    });
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      if (!res.destroyed) {
        if (rest.trim()) res.write(qualifyStatsName(rest, engine.name));
        res.end();
      }
      resolve();
    };
    up.on('end', finish);
    up.on('error', finish);
    up.on('close', finish);
  });
}
