/**
 * Webhook SSRF policy and signed delivery. Every test injects the resolver (no DNS query leaves the
 * machine) and a connect guard that throws for any address outside loopback (no packet either); a
 * loopback HTTP server plays the receiver.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import ipaddr from 'ipaddr.js';
import { deliverWebhook, type WebhookTransport } from '../../webhooks/deliver';
import { checkAddress, parseAllowList, WebhookRefusedError, WebhookUnresolvedError } from '../../webhooks/ssrf';

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const NAMES: Record<string, string[]> = {
  'loop.test': ['127.0.0.1'],
  'meta.test': ['169.254.169.254'],
  'private.test': ['10.0.0.1'],
  'v6loop.test': ['::1'],
  'mapped.test': ['::ffff:127.0.0.1'],
  'mixed.test': ['93.184.216.34', '10.0.0.1'],
  'public.test': ['93.184.216.34'],
};

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  url: string;
}

let receiver: http.Server;
let port: number;
let received: Received[];
let answer: (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A transport that resolves from NAMES and refuses to open a socket anywhere but loopback. */
function guardedTransport() {
  const lookups: string[] = [];
  const connects: string[] = [];
  const transport: WebhookTransport = {
    timeoutMs: 5_000,
    resolve: async (host) => {
      lookups.push(host);
      const a = NAMES[host];
      if (!a) throw new Error(`ENOTFOUND ${host}`);
      return a.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    },
    beforeConnect: (address) => {
      connects.push(address);
      if (ipaddr.process(address).range() !== 'loopback') throw new Error(`test guard: no connection to ${address}`);
    },
  };
  return { transport, lookups, connects };
}

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body, url: req.url ?? '' });
      answer(req, res);
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  port = (receiver.address() as AddressInfo).port;
});

beforeEach(() => {
  received = [];
  answer = (_req, res) => res.writeHead(204).end();
});

afterAll(() => new Promise<void>((r) => receiver.close(() => r())));

const msg = { id: 'msg_test_completed', body: JSON.stringify({ type: 'job.completed', data: { id: 'j1', status: 'completed' } }) };

describe('refused by policy (no allow-list)', () => {
  const none = parseAllowList('');
  // PORT is the loopback receiver's port, filled in when the test runs.
  const urls = [
    `http://127.0.0.1:PORT/hook`,
    'http://169.254.169.254/latest/meta-data/',
    'http://10.0.0.1/hook',
    `http://[::1]:PORT/hook`,
    `http://[::ffff:127.0.0.1]:PORT/hook`,
    'http://[::ffff:169.254.169.254]/',
    'http://100.64.0.1/', // CGNAT
    'http://[fd00:ec2::254]/', // AWS metadata over IPv6
    'http://[fe80::1]/',
    'http://0.0.0.0/',
    'http://2130706433/', // 127.0.0.1 as one number (the URL parser normalises it)
    'http://0x7f.1/',
    'http://[64:ff9b::a9fe:a9fe]/', // NAT64 of 169.254.169.254
    `http://[::7f00:1]:PORT/hook`, // IPv4-compatible form of 127.0.0.1
    'http://[::a9fe:a9fe]/', // IPv4-compatible form of 169.254.169.254
    'http://[2002:7f00:1::1]/', // 6to4 of 127.0.0.1
    'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', // Teredo
    `http://loop.test:PORT/hook`,
    'http://meta.test/latest/meta-data/',
    'http://private.test/',
    `http://v6loop.test:PORT/`,
    `http://mapped.test:PORT/`,
    'https://mixed.test/', // one public and one private record: refused
  ];

  test.each(urls)('%s is refused before any connection', async (template) => {
    const url = template.replace('PORT', String(port));
    const { transport, connects } = guardedTransport();
    const err = await deliverWebhook(url, SECRET, msg, none, transport).then(() => null, (e: unknown) => e);
    expect({ url, refused: err instanceof WebhookRefusedError }).toEqual({ url, refused: true });
    expect((err as Error).message).toMatch(/refused by policy/);
    expect(connects).toEqual([]);
    expect(received).toEqual([]);
  });

  test.each(['ftp://example.com/x', 'file:///etc/passwd', 'gopher://127.0.0.1:6379/_FLUSHALL', 'http://user:pw@public.test/'])(
    '%s is refused (scheme or credentials)',
    async (url) => {
      const { transport, connects, lookups } = guardedTransport();
      await expect(deliverWebhook(url, SECRET, msg, none, transport)).rejects.toBeInstanceOf(WebhookRefusedError);
      expect(connects).toEqual([]);
      expect(lookups).toEqual([]);
    },
  );

  test('a name that does not resolve is a retryable failure, not a policy refusal', async () => {
    const { transport, connects } = guardedTransport();
    const err = await deliverWebhook('http://nowhere.test/hook', SECRET, msg, none, transport).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(WebhookUnresolvedError);
    expect(err).not.toBeInstanceOf(WebhookRefusedError);
    expect((err as Error).message).toMatch(/nowhere\.test does not resolve/);
    expect((err as Error).message).not.toMatch(/getaddrinfo|ENOTFOUND|EAI_/);
    expect(connects).toEqual([]);
  });

  test('a public address passes the policy; the test guard then stops the socket', async () => {
    const { transport, connects, lookups } = guardedTransport();
    const err = await deliverWebhook('https://public.test/hook', SECRET, msg, none, transport).then(() => null, (e: Error) => e);
    expect(err).not.toBeInstanceOf(WebhookRefusedError);
    expect(err?.message).toMatch(/test guard/);
    expect(lookups).toEqual(['public.test']);
    expect(connects).toEqual(['93.184.216.34']);
  });
});

describe('IPv6 forms that embed an IPv4 address (address checks only, no connection)', () => {
  const none = parseAllowList('');
  // Even an operator's allow-list does not open them: the IPv4 host behind them is what would be reached.
  const everything = parseAllowList('loopback,private,linkLocal,carrierGradeNat,uniqueLocal,reserved,benchmarking,::/0,0.0.0.0/0');
  test.each([
    ['::7f00:1', 'ipv4Compatible'], // 127.0.0.1
    ['::a9fe:a9fe', 'ipv4Compatible'], // 169.254.169.254
    ['::0a00:0001', 'ipv4Compatible'], // 10.0.0.1
    ['::5db8:d822', 'ipv4Compatible'], // 93.184.216.34, public: still refused, the form itself is the problem
    ['::1.2.3.4', 'ipv4Compatible'], // how inet_ntop prints ::102:304 (ipaddr.js alone would read it as ::ffff:1.2.3.4)
    ['::93.184.216.34', 'ipv4Compatible'],
    ['2002:7f00:1::', '6to4'],
    ['2002:a9fe:a9fe::1', '6to4'],
    ['2001::1', 'teredo'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo'],
    ['64:ff9b::7f00:1', 'nat64'],
    ['64:ff9b::a9fe:a9fe', 'nat64'],
    ['64:ff9b:1::7f00:1', 'nat64Local'],
    ['64:ff9b:1:ffff::1', 'nat64Local'],
  ])('%s is refused (%s)', (address, range) => {
    expect(checkAddress(address, none)).toMatchObject({ ok: false, range, reason: expect.stringMatching(/embeds an IPv4 address/) });
    expect(checkAddress(address, everything)).toMatchObject({ ok: false, range });
  });

  test('neighbours of those ranges keep their own classes', () => {
    expect(checkAddress('::1', none)).toMatchObject({ ok: false, range: 'loopback' });
    expect(checkAddress('::', none)).toMatchObject({ ok: false, range: 'unspecified' });
    expect(checkAddress('::1', parseAllowList('loopback'))).toMatchObject({ ok: true, range: 'loopback' });
    expect(checkAddress('::ffff:93.184.216.34', none)).toMatchObject({ ok: true }); // IPv4-mapped: judged as the IPv4 address
    expect(checkAddress('::ffff:127.0.0.1', none)).toMatchObject({ ok: false, range: 'loopback' });
    expect(checkAddress('2001:4860:4860::8888', none)).toMatchObject({ ok: true, range: 'unicast' }); // outside 2001::/32
    expect(checkAddress('2003::1', none)).toMatchObject({ ok: true, range: 'unicast' }); // outside 2002::/16
    expect(checkAddress('64:ff9b:2::1', none).range).not.toMatch(/nat64/); // outside 64:ff9b:1::/48
  });
});

describe('allow-listed loopback receiver', () => {
  const loopback = parseAllowList('loopback');

  test('gets one POST whose signature standardwebhooks verifies; DNS resolved once and pinned', async () => {
    const { transport, lookups, connects } = guardedTransport();
    const res = await deliverWebhook(`http://loop.test:${port}/hooks/fs?x=1`, SECRET, msg, loopback, transport);
    expect(res).toEqual({ status: 204, address: '127.0.0.1' });
    expect(lookups).toEqual(['loop.test']);
    expect(connects).toEqual(['127.0.0.1']);
    expect(received).toHaveLength(1);
    const [r] = received;
    expect(r.url).toBe('/hooks/fs?x=1');
    expect(r.headers.host).toBe(`loop.test:${port}`);
    expect(r.headers['webhook-id']).toBe('msg_test_completed');
    const verified = new Webhook(SECRET).verify(r.body, r.headers as Record<string, string>);
    expect(verified).toEqual(JSON.parse(msg.body));
    // A different secret or a changed body fails verification.
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 8).toString('base64')}`).verify(r.body, r.headers as Record<string, string>)).toThrow();
    expect(() => new Webhook(SECRET).verify(r.body.replace('j1', 'j2'), r.headers as Record<string, string>)).toThrow();
  });

  test('the allow-list opens loopback only: metadata and private stay refused', async () => {
    for (const url of ['http://169.254.169.254/', 'http://meta.test/', 'http://10.0.0.1/', 'http://private.test/']) {
      const { transport, connects } = guardedTransport();
      await expect(deliverWebhook(url, SECRET, msg, loopback, transport)).rejects.toBeInstanceOf(WebhookRefusedError);
      expect(connects).toEqual([]);
    }
  });

  test('a redirect is not followed: its status comes back and the Location is never requested', async () => {
    answer = (req, res) => {
      if (req.url === '/start') res.writeHead(302, { location: `http://127.0.0.1:${port}/elsewhere` }).end();
      else res.writeHead(200).end();
    };
    const { transport, connects } = guardedTransport();
    const res = await deliverWebhook(`http://127.0.0.1:${port}/start`, SECRET, msg, loopback, transport);
    expect(res.status).toBe(302);
    expect(received.map((r) => r.url)).toEqual(['/start']);
    expect(connects).toEqual(['127.0.0.1']);
  });

  test('a CIDR allow-list entry admits exactly that block', () => {
    const allow = parseAllowList('10.1.0.0/16');
    expect(checkAddress('10.1.2.3', allow).ok).toBe(true);
    expect(checkAddress('10.2.0.1', allow).ok).toBe(false);
    expect(checkAddress('::ffff:10.1.0.9', allow).ok).toBe(true);
    expect(() => parseAllowList('everything')).toThrow(/range name/);
  });
});
