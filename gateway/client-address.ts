/**
 * The client's address, and whom to believe about it. The TCP peer is the client unless it is one
 * of `proxy.trustedProxies`; only then is its `X-Forwarded-For` read, right to left, skipping
 * further trusted proxies, and the first untrusted address is the client (fastify's trustProxy
 * and the `proxy-addr` package walk the chain the same way). `Forwarded` (RFC 7239) is not read:
 * a proxy that only sends `Forwarded` is treated as the client. Either way, the client's own
 * forwarding headers never reach the upstream (gateway/headers.ts strips `forwarded` and every
 * `x-forwarded-*`); the gateway sends its own (gateway/upstream-headers.ts).
 */
import { BlockList, isIP } from 'node:net';

export type ClientAddressResolver = (peer: string | undefined, xForwardedFor: string | string[] | undefined) => string;

/** `10.0.0.0/8`, `192.0.2.7`, `2001:db8::/32` → why it is not a usable CIDR, or undefined. */
export function cidrProblem(cidr: string): string | undefined {
  const [addr = '', bits] = cidr.split('/');
  const family = isIP(addr);
  if (family === 0) return `"${cidr}" is not an IP address or CIDR`;
  if (bits !== undefined) {
    const n = Number(bits);
    if (!Number.isInteger(n) || n < 0 || n > (family === 4 ? 32 : 128)) return `"${cidr}": prefix length out of range`;
  }
  return undefined;
}

/** `::ffff:127.0.0.1` (an IPv4 peer on a dual-stack socket) → `127.0.0.1`. */
export function plainAddress(a: string): string {
  return a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a;
}

export function createClientAddressResolver(trusted: readonly string[]): ClientAddressResolver {
  if (trusted.length === 0) return (peer) => plainAddress(peer ?? '');
  const list = new BlockList();
  for (const cidr of trusted) {
    const [addr = '', bits] = cidr.split('/');
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  const isTrusted = (a: string) => {
    const family = isIP(a);
    return family !== 0 && list.check(a, family === 6 ? 'ipv6' : 'ipv4');
  };
  return (peer, xff) => {
    let client = plainAddress(peer ?? '');
    if (!isTrusted(client) || xff === undefined) return client;
    const hops = (Array.isArray(xff) ? xff.join(',') : xff).split(',').map((s) => plainAddress(s.trim()));
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      // An entry that is not an address ends the walk: the hop that wrote it is the last one known.
      if (isIP(hop) === 0) return client;
      client = hop;
      if (!isTrusted(hop)) return client;
    }
    return client;
  };
}
