import { describe, expect, test } from 'bun:test';
import {
  compileValue,
  ExpressionError,
  formatExpression,
  formatExpressionWithSoft,
  matchExpression,
  parseExpression,
} from '../../../src/lib/scheduler';

function match(text: string, ...candidates: string[]): boolean {
  return matchExpression(parseExpression(text), candidates);
}

function parseError(text: string): string {
  try {
    parseExpression(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ExpressionError);
    return (err as Error).message;
  }
  throw new Error(`${text} parsed`);
}

describe('parseExpression', () => {
  test('== and != with key lower-cased, value kept', () => {
    expect(parseExpression('Storage==SSD')).toEqual({ key: 'storage', operator: '==', value: 'SSD', soft: false });
    expect(parseExpression('node!=node-1')).toEqual({ key: 'node', operator: '!=', value: 'node-1', soft: false });
  });

  test('a leading ~ makes it soft and is dropped from the value', () => {
    expect(parseExpression('region==~us*')).toEqual({ key: 'region', operator: '==', value: 'us*', soft: true });
    expect(parseExpression('container!=~redis*')).toEqual({ key: 'container', operator: '!=', value: 'redis*', soft: true });
  });

  test('== is looked for first, so a!=b==c splits at == (and the key a!=b is invalid)', () => {
    expect(parseError('a!=b==c')).toBe("Key 'a!=b' is invalid");
  });

  test('keys may hold dots, dashes, underscores; values regex/glob characters and spaces', () => {
    expect(parseExpression('com.example.type==front-end').key).toBe('com.example.type');
    expect(parseExpression('_k==a b').value).toBe('a b');
    expect(parseExpression('node==/node-[01]/').value).toBe('/node-[01]/');
    expect(parseExpression('key==(?i)^ab+c?$|x\\d').value).toBe('(?i)^ab+c?$|x\\d');
    expect(parseExpression('image==registry:5000/foo:1.0').value).toBe('registry:5000/foo:1.0');
  });

  test('v1 lets one =, ! or / precede the ~ (=~v is not soft)', () => {
    expect(parseExpression('key===v')).toEqual({ key: 'key', operator: '==', value: '=v', soft: false });
    expect(parseExpression('key===~v').soft).toBe(false);
  });

  test('missing operator', () => {
    expect(parseError('nodenode1')).toBe('One of operator ==, != is expected');
    expect(parseError('node=node1')).toBe('One of operator ==, != is expected');
  });

  test('invalid keys', () => {
    expect(parseError('1node==a')).toBe("Key '1node' is invalid");
    expect(parseError('==a')).toBe("Key '' is invalid");
    expect(parseError('a==b')).toBe("Key 'a' is invalid"); // v1's key regex needs two characters
    expect(parseError('no de==a')).toBe("Key 'no de' is invalid");
  });

  test('invalid values', () => {
    expect(parseError('node==')).toBe("Value '' is invalid");
    expect(parseError('node==a@b')).toBe("Value 'a@b' is invalid");
    expect(parseError('node==~')).toBe("Value '~' is invalid");
    expect(parseError('node!=a,b')).toBe("Value 'a,b' is invalid");
  });

  test('formatting for v1 error lists', () => {
    expect(formatExpression(parseExpression('region==~us*'))).toBe('region==us*');
    expect(formatExpressionWithSoft(parseExpression('region==~us*'))).toBe('region==us* (soft=true)');
    expect(formatExpressionWithSoft(parseExpression('image!=redis'))).toBe('image!=redis (soft=false)');
  });
});

describe('matching', () => {
  test('glob: anchored, * is .*', () => {
    expect(match('key==ub*t*', 'ubuntu')).toBe(true);
    expect(match('key==ub*', 'xubuntu')).toBe(false);
    expect(match('key==ubuntu', 'ubuntu-14')).toBe(false);
    expect(match('key==*', '')).toBe(true);
  });

  test('glob: other regex metacharacters are not escaped', () => {
    expect(match('key==a.c', 'abc')).toBe(true);
    expect(match('key==ab+', 'abbb')).toBe(true);
    expect(match('key==node-[12]', 'node-2')).toBe(true);
    expect(match('key==node-[12]', 'node-3')).toBe(false);
  });

  test('regex /re/: unanchored unless the user anchors it', () => {
    expect(match('key==/node-[01]/', 'my-node-1-x')).toBe(true);
    expect(match('key==/^node-[01]$/', 'my-node-1-x')).toBe(false);
    expect(match('key==/^node-[01]$/', 'node-0')).toBe(true);
  });

  test('(?i) makes regexes and globs case-insensitive (RE2 inline flags)', () => {
    expect(match('key==/(?i)^NODE/', 'node-1')).toBe(true);
    expect(match('key==/^NODE/', 'node-1')).toBe(false);
    expect(match('key==(?i)Ubuntu*', 'UBUNTU-14')).toBe(true);
    expect(match('key==Ubuntu*', 'UBUNTU-14')).toBe(false);
  });

  test('matching takes time linear in the candidate: a catastrophic pattern is harmless (RE2, as v1)', () => {
    // A backtracking engine needs ~2^40 steps for this candidate; RE2 a few thousand.
    const candidate = 'a'.repeat(40) + '!';
    expect(match('container!=/^(a+)+$/', candidate)).toBe(true);
    expect(match('container==/^(a|aa)+$/', 'a'.repeat(5000) + 'b')).toBe(false);
    // Go's syntax: no lookbehind (so such a pattern matches nothing, as in v1).
    expect(compileValue('/(?<=a)b/')).toBeNull();
  });

  test('an invalid regex matches nothing: == false, != true', () => {
    expect(compileValue('/(/')).toBeNull();
    expect(match('key==/(/', '(')).toBe(false);
    expect(match('key!=/(/', '(')).toBe(true);
  });

  test('== any candidate matches; != no candidate matches', () => {
    expect(match('key==b', 'a', 'b', 'c')).toBe(true);
    expect(match('key==z', 'a', 'b')).toBe(false);
    expect(match('key!=b', 'a', 'b')).toBe(false);
    expect(match('key!=z', 'a', 'b')).toBe(true);
  });

  test('no candidates: == false, != true', () => {
    expect(match('key==*')).toBe(false);
    expect(match('key!=*')).toBe(true);
  });

  test('the soft marker does not change matching', () => {
    expect(match('key==~a*', 'abc')).toBe(true);
    expect(match('key!=~a*', 'abc')).toBe(false);
  });
});
