/**
 * Placement expressions (`constraint:`, `affinity:`, `whitelist:`): `<key><op><value>` with op `==` or `!=`,
 * a leading `~` on the value marks a soft expression. Parsing, validation and matching follow Swarm v1
 * (scheduler/filter/expr.go) rule for rule, including its error texts.
 */
import { compileRegex, type SafeRegex } from '../regex';

type Operator = '==' | '!=';

/** Operators in the order v1 looks for them: `==` first, so `a!=b==c` splits at `==`. */
const OPERATORS: readonly Operator[] = ['==', '!='];

export interface Expression {
  /** Lower-cased key (v1 lower-cases it). */
  key: string;
  operator: Operator;
  /** The value without the leading `~`. */
  value: string;
  soft: boolean;
}

/** A malformed expression; the message is v1's text. */
export class ExpressionError extends Error {
  override readonly name = 'ExpressionError';
}

// v1: `^(?i)[a-z_][a-z0-9\-_.]+$` (so a key has at least two characters).
const KEY_RE = /^[a-z_][a-z0-9\-_.]+$/i;
// v1: `^(?i)[=!\/]?(~)?[a-z0-9:\-_\s\.\*/\(\)\?\+\[\]\\\^\$\|]+$`; RE2's \s is [\t\n\f\r ].
const VALUE_RE = /^[=!/]?(~)?[a-z0-9:\-_\t\n\f\r .*/()?+[\]\\^$|]+$/i;

/** Parses one expression text (`key==value`, `key!=~value`), or throws an ExpressionError. */
export function parseExpression(text: string): Expression {
  for (const operator of OPERATORS) {
    const at = text.indexOf(operator);
    if (at < 0) continue;
    const key = text.slice(0, at);
    const rawValue = text.slice(at + operator.length);
    if (!KEY_RE.test(key)) throw new ExpressionError(`Key '${key}' is invalid`);
    if (!VALUE_RE.test(rawValue)) throw new ExpressionError(`Value '${rawValue}' is invalid`);
    const soft = rawValue.startsWith('~');
    return { key: key.toLowerCase(), operator, value: rawValue.replace(/^~+/, ''), soft };
  }
  throw new ExpressionError('One of operator ==, != is expected');
}

/** Parses every text; the first malformed one throws. */
export function parseExpressions(texts: readonly string[]): Expression[] {
  return texts.map(parseExpression);
}

/** `key==value` without the soft marker, as v1 lists constraints in its errors. */
export function formatExpression(expr: Expression): string {
  return `${expr.key}${expr.operator}${expr.value}`;
}

/** `key==value (soft=true)`, as v1 lists affinities and whitelists in its errors. */
export function formatExpressionWithSoft(expr: Expression): string {
  return `${formatExpression(expr)} (soft=${expr.soft})`;
}

/**
 * The regular expression v1 builds for a value: `/re/` is a regex, unanchored; anything else is a glob
 * where only `*` is special (→ `.*`, other metacharacters are NOT escaped) and the whole string is
 * anchored. Both are RE2 (Go's syntax, linear-time matching: the value is the client's), so leading
 * inline flags such as `(?i)` work as in v1. Returns null when the pattern does not compile (v1 then
 * logs and counts it as "no match").
 */
export function compileValue(value: string): SafeRegex | null {
  const isRegex = value.length >= 2 && value.startsWith('/') && value.endsWith('/');
  const body = isRegex ? value.slice(1, -1) : value;
  if (isRegex) return compileRegex(body);
  // A glob keeps a leading inline flag group in front of the anchor, where RE2 wants it.
  const inline = /^\(\?[imsU]+\)/.exec(body)?.[0] ?? '';
  return compileRegex(`${inline}^${body.slice(inline.length).replace(/\*/g, '.*')}$`);
}

/**
 * A matcher for `expr`: `==` is true when any candidate matches, `!=` when none does. With no candidates
 * `==` is false and `!=` true.
 */
export function compileExpression(expr: Expression): (candidates: readonly string[]) => boolean {
  const re = compileValue(expr.value);
  return (candidates) => {
    let matched = false;
    if (re) {
      for (const candidate of candidates) {
        if (re.test(candidate)) {
          matched = true;
          break;
        }
      }
    }
    return expr.operator === '==' ? matched : !matched;
  };
}

/** One-shot form of compileExpression. */
export function matchExpression(expr: Expression, candidates: readonly string[]): boolean {
  return compileExpression(expr)(candidates);
}
