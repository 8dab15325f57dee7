/** The one API error type: its status reaches the client, anything else thrown is a 500 (both servers). */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { ApiError, errorStatus } from '../../src/lib/errors';
import { setLogSink } from '../../src/lib/log';
import { createTokenServer } from '../../src/lib/token-server/server';
import { TokenStore } from '../../src/lib/token-server/store';

describe('ApiError', () => {
  test('its own status; anything else 500', () => {
    expect(errorStatus(new ApiError(409, 'taken'))).toBe(409);
    expect(errorStatus(new Error('boom'))).toBe(500);
    expect(errorStatus('text')).toBe(500);
  });
});

describe('token server answers', () => {
  let server: Server;
  let base = '';
  beforeAll(async () => {
    setLogSink(() => undefined);
    server = createTokenServer(await TokenStore.open(undefined));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => server.close());

  test('the ApiError status and its one-line text', async () => {
    const unknown = await fetch(`${base}/v1/clusters/nosuch`);
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toBe('unknown cluster token nosuch\n');
    const token = await (await fetch(`${base}/v1/clusters`, { method: 'POST' })).text();
    const ttl = await fetch(`${base}/v1/clusters/${token}?ttl=0`, { method: 'POST', body: '10.0.0.1:2375' });
    expect(ttl.status).toBe(400);
    expect((await fetch(`${base}/v1/clusters`)).status).toBe(405);
  });
});
