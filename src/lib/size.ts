/**
 * Byte sizes as docker's flags write them (`-m 512m`, go-units' RAMInBytes): a number with an optional
 * unit b, k, m, g (or kb/kib, mb/mib, gb/gib), all powers of 1024, case-insensitive. No library: the
 * common ones read `m` as metres or `mb` as 10^6, which is not what a docker user means.
 */
import { UserError } from './errors';

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Bytes in `text`, or a UserError naming `flag`. */
export function parseByteSize(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmg]?)(?:i?b)?$/i.exec(text.trim());
  const bytes = m ? Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!) : NaN;
  if (!Number.isFinite(bytes) || bytes <= 0) throw new UserError(`invalid ${flag}: "${text}" (expected a size such as 16m, 512k or 1g)`, 2);
  return bytes;
}
