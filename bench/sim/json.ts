/** The JSON values the simulator renders, and readers of the loosely typed bodies clients send. */

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function asObject(v: unknown): JsonObject | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as JsonObject) : undefined;
}

export function nonEmpty(o: JsonObject | undefined): JsonObject | undefined {
  return o && Object.keys(o).length ? o : undefined;
}

export function asStringArray(v: unknown): string[] | undefined {
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
}

export function asStringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const o = asObject(v);
  if (o) for (const [k, val] of Object.entries(o)) if (typeof val === 'string') out[k] = val;
  return out;
}
