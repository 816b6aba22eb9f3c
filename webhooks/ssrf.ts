/**
 * Where a webhook may go. A user names the URL, our server makes the request: without a policy that
 * is server-side request forgery (cloud metadata at 169.254.169.254, Redis on 127.0.0.1, the private
 * network). The policy decides on the *resolved* address, before any connection, and the delivery
 * then connects to exactly that address (DNS resolved once and pinned), so a name that resolves to a
 * public address at check time and to 127.0.0.1 a moment later (DNS rebinding) cannot slip through.
 *
 * Address classification is ipaddr.js's (its `range()` names: `loopback`, `private`, `linkLocal`,
 * `carrierGradeNat`, `uniqueLocal`, `ipv4Mapped`, …); only `unicast` is public. IPv4-mapped IPv6
 * addresses (::ffff:127.0.0.1) are judged as the IPv4 address they carry; the other IPv6 forms that
 * embed an IPv4 address (IPv4-compatible, 6to4, Teredo, NAT64) are refused outright (EMBEDDED_IPV4_RANGES).
 * Issue 20 (audio fetched by URL) uses this same policy; the table is shared, not copied.
 */
import * as dns from 'node:dns';
import * as net from 'node:net';
import ipaddr from 'ipaddr.js';

/** Cloud metadata endpoints outside the ranges ipaddr.js already names as non-public. */
const METADATA_ADDRESSES = ['169.254.169.254', '169.254.170.2', 'fd00:ec2::254', '100.100.100.200'];

/**
 * IPv6 forms that carry or reach an IPv4 address, refused outright (no allow-list entry opens them):
 * the host behind them is an IPv4 address this policy would judge differently, and some stacks route
 * them to it (`::7f00:1` is 127.0.0.1 on hosts that still honour IPv4-compatible addresses).
 * ipaddr.js classes the first and last as `unicast` (public), so the table is ours.
 */
export const EMBEDDED_IPV4_RANGES: readonly { cidr: string; name: string; source: string }[] = [
  { cidr: '::/96', name: 'ipv4Compatible', source: 'RFC 4291 §2.5.5.1 (deprecated IPv4-compatible)' },
  { cidr: '2002::/16', name: '6to4', source: 'RFC 3056' },
  { cidr: '2001::/32', name: 'teredo', source: 'RFC 4380' },
  { cidr: '64:ff9b::/96', name: 'nat64', source: 'RFC 6052 (well-known NAT64 prefix)' },
  { cidr: '64:ff9b:1::/48', name: 'nat64Local', source: 'RFC 8215 (local-use NAT64)' },
];
const EMBEDDED_IPV4 = EMBEDDED_IPV4_RANGES.map((r) => ({ ...r, parsed: ipaddr.parseCIDR(r.cidr) as [ipaddr.IPv6, number] }));

/** ipaddr.js range names an operator may allow-list (IPv4 and IPv6 `range()` values). */
const ALLOWABLE_RANGES = ['loopback', 'private', 'linkLocal', 'carrierGradeNat', 'uniqueLocal', 'reserved', 'benchmarking'];

/**
 * What the operator lets through although it is not public: ipaddr.js range names (`loopback`,
 * `private`, …) and CIDRs (`10.1.0.0/16`, `fd00::/8`). From config `WEBHOOK_ALLOW` (comma-separated).
 */
export interface AllowList {
  ranges: string[];
  cidrs: [ipaddr.IPv4 | ipaddr.IPv6, number][];
}

/**
 * Parses `WEBHOOK_ALLOW` ("loopback,10.1.0.0/16").
 * @throws Error naming an entry that is neither a CIDR nor a range name ipaddr.js knows
 */
export function parseAllowList(spec: string | undefined): AllowList {
  const list: AllowList = { ranges: [], cidrs: [] };
  for (const raw of (spec ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    if (raw.includes('/')) {
      list.cidrs.push(ipaddr.parseCIDR(raw));
    } else if (ALLOWABLE_RANGES.includes(raw)) {
      list.ranges.push(raw);
    } else {
      throw new Error(`WEBHOOK_ALLOW: '${raw}' is neither a CIDR nor an ipaddr.js range name`);
    }
  }
  return list;
}

export type AddressVerdict = { ok: true; range: string } | { ok: false; range: string; reason: string };

/**
 * Parses an address as the kernel reads it. ipaddr.js reads `::a.b.c.d` as `::ffff:a.b.c.d` (IPv4-mapped),
 * but it is the IPv4-compatible `::/96` form (RFC 4291 §2.2, 2.5.5.1) — and glibc's inet_ntop prints DNS
 * answers in ::/96 exactly that way. An IPv6 text with a dotted tail is first put in canonical hex form by
 * the WHATWG URL parser (Node's own), which reads it correctly.
 */
function parseAddress(address: string): ipaddr.IPv4 | ipaddr.IPv6 {
  if (address.includes(':') && address.includes('.')) {
    const host = new URL(`http://[${address}]/`).hostname;
    return ipaddr.parse(host.replace(/^\[(.*)\]$/, '$1'));
  }
  return ipaddr.parse(address);
}

/** Whether a webhook may connect to `address` (an IP literal, v4 or v6, without brackets). */
export function checkAddress(address: string, allow: AllowList): AddressVerdict {
  if (!ipaddr.isValid(address)) return { ok: false, range: 'invalid', reason: `'${address}' is not an IP address` };
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = parseAddress(address);
  } catch {
    return { ok: false, range: 'invalid', reason: `'${address}' is not an IP address` };
  }
  // Judge ::ffff:a.b.c.d as a.b.c.d: the kernel connects to the IPv4 host.
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  if (ip.kind() === 'ipv6') {
    const v6 = ip as ipaddr.IPv6;
    // `::` and `::1` are in ::/96 too; they keep their own names (unspecified, loopback) below.
    const embedded = EMBEDDED_IPV4.find((r) => v6.match(r.parsed) && !['unspecified', 'loopback'].includes(v6.range()));
    if (embedded) {
      return { ok: false, range: embedded.name, reason: `${v6.toString()} embeds an IPv4 address (${embedded.cidr}, ${embedded.name})` };
    }
  }
  const range = ip.range();
  const listed =
    allow.ranges.includes(range) ||
    allow.cidrs.some(([net_, bits]) => net_.kind() === ip.kind() && ip.match(net_, bits));
  if (listed) return { ok: true, range };
  const canonical = ip.toString();
  if (METADATA_ADDRESSES.some((m) => ipaddr.parse(m).toString() === canonical)) {
    return { ok: false, range, reason: `${canonical} is a cloud metadata address` };
  }
  if (range !== 'unicast') return { ok: false, range, reason: `${canonical} is in a non-public range (${range})` };
  return { ok: true, range };
}

/** Resolves a host name to its addresses (injectable so tests never ask a real DNS server). */
export type Resolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

export const systemResolver: Resolver = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

/**
 * Called with the pinned address right before a socket is opened. The default does nothing; tests pass
 * one that throws for anything outside loopback, so no test can send a packet off this machine.
 */
export type ConnectHook = (address: string, port: number) => void;

export class WebhookRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookRefusedError';
  }
}

/**
 * The webhook host name did not resolve (ENOTFOUND, EAI_AGAIN, a resolver timeout, no records). Not a
 * policy decision: DNS failures are often temporary, so the delivery is retried with backoff.
 */
export class WebhookUnresolvedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookUnresolvedError';
  }
}

export interface PinnedTarget {
  url: URL;
  /** the one address every connection of this delivery goes to */
  address: string;
  family: 4 | 6;
  port: number;
}

/**
 * Validates a webhook URL's form (http or https only, no credentials) without touching the network.
 * @throws WebhookRefusedError saying why
 */
export function checkUrlForm(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookRefusedError('webhookUrl is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WebhookRefusedError(`webhookUrl must use http or https (got ${url.protocol.replace(':', '')})`);
  }
  if (url.username || url.password) throw new WebhookRefusedError('webhookUrl must not carry credentials');
  return url;
}

/** The host of a URL without IPv6 brackets. */
export const bareHost = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1');

/**
 * Resolves the URL's host once and decides on the result: every address it resolves to must pass the
 * policy (a name with one public and one private record is refused), and the first is pinned.
 * @throws WebhookRefusedError when the form or any resolved address is refused by policy
 * @throws WebhookUnresolvedError when the name does not resolve (retryable: DNS failures are often temporary)
 */
export async function resolveTarget(raw: string, allow: AllowList, resolve: Resolver): Promise<PinnedTarget> {
  const url = checkUrlForm(raw);
  const host = bareHost(url);
  let addresses: { address: string; family: number }[];
  if (net.isIP(host)) {
    addresses = [{ address: host, family: net.isIP(host) }];
  } else {
    try {
      addresses = await resolve(host);
    } catch (err) {
      // The resolver's own text ("getaddrinfo ENOTFOUND x") reaches users through audio-url's 422: say it in words.
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOTFOUND' || code === 'ENODATA' ? 'no such name' : 'the name lookup failed; it may be temporary';
      throw new WebhookUnresolvedError(`webhookUrl host ${host} does not resolve (${why})`);
    }
    if (addresses.length === 0) throw new WebhookUnresolvedError(`webhookUrl host ${host} has no addresses`);
  }
  for (const a of addresses) {
    const v = checkAddress(a.address, allow);
    if (!v.ok) throw new WebhookRefusedError(`webhookUrl refused by policy: ${host} → ${v.reason}`);
  }
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const first = addresses[0];
  return { url, address: first.address, family: first.family === 6 ? 6 : 4, port };
}
