/**
 * Range patterns in discovery entries: the first `[from:to]` (inclusive integers) expands, as in
 * Swarm v1: `10.0.0.[10:20]:2375`, `127.0.0.1:[2375:2377]`, even `192.168.1.2:[2:20]375`.
 */
import { UserError } from '../errors';

const RANGE = /\[(\d+):(\d+)\]/;
/** A bound on one pattern's size, so a typo like `[1:99999999]` cannot exhaust memory. */
const MAX_RANGE_SIZE = 65536;

export function expandRange(entry: string): string[] {
  const m = RANGE.exec(entry);
  if (!m) {
    const ipv6 = /^\[[^\]]*\]:\d+$/.test(entry);
    if (!ipv6 && /[[\]]/.test(entry)) {
      throw new UserError(`invalid range in "${entry}": expected [from:to] with whole numbers`);
    }
    return [entry];
  }
  const from = Number(m[1]);
  const to = Number(m[2]);
  if (from > to) throw new UserError(`invalid range [${from}:${to}] in "${entry}": start is greater than end`);
  if (to - from + 1 > MAX_RANGE_SIZE) {
    throw new UserError(`invalid range [${from}:${to}] in "${entry}": more than ${MAX_RANGE_SIZE} entries`);
  }
  const head = entry.slice(0, m.index);
  const tail = entry.slice(m.index + m[0].length);
  const out: string[] = [];
  for (let i = from; i <= to; i++) out.push(`${head}${i}${tail}`);
  return out;
}
