import t from 'tap';
import { cidrProblem, createClientAddressResolver, plainAddress } from '../../gateway/client-address.ts';

t.test('no trusted proxies: the peer, whatever X-Forwarded-For says', async (t) => {
  const r = createClientAddressResolver([]);
  t.equal(r('10.0.0.1', '1.2.3.4'), '10.0.0.1');
  t.equal(r('::ffff:127.0.0.1', undefined), '127.0.0.1', 'IPv4-mapped peer');
  t.equal(r(undefined, '1.2.3.4'), '');
});

t.test('trusted proxies: X-Forwarded-For read right to left up to the first untrusted hop', async (t) => {
  const r = createClientAddressResolver(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32']);
  t.equal(r('203.0.113.5', '1.2.3.4'), '203.0.113.5', 'untrusted peer: header ignored');
  t.equal(r('10.1.2.3', undefined), '10.1.2.3', 'trusted peer without the header');
  t.equal(r('10.1.2.3', '1.2.3.4'), '1.2.3.4');
  t.equal(r('10.1.2.3', '6.6.6.6, 1.2.3.4'), '1.2.3.4', 'a spoofed hop on the left is not believed');
  t.equal(r('10.1.2.3', '6.6.6.6, 1.2.3.4, 192.0.2.7'), '1.2.3.4', 'trusted hops are skipped');
  t.equal(r('10.1.2.3', ['6.6.6.6, 1.2.3.4', '10.9.9.9']), '1.2.3.4', 'repeated headers are one list');
  t.equal(r('10.1.2.3', '10.0.0.2, 10.0.0.3'), '10.0.0.2', 'all trusted: the leftmost');
  t.equal(r('10.1.2.3', 'garbage, 1.2.3.4'), '1.2.3.4');
  t.equal(r('10.1.2.3', '1.2.3.4, garbage'), '10.1.2.3', 'a non-address ends the walk at the hop that wrote it');
  t.equal(r('::ffff:10.1.2.3', '2001:db8::1, 2001:db9::1'), '2001:db9::1', 'IPv6');
});

t.test('CIDR checks and address forms', async (t) => {
  t.equal(cidrProblem('10.0.0.0/8'), undefined);
  t.equal(cidrProblem('::1'), undefined);
  t.equal(cidrProblem('2001:db8::/129'), '"2001:db8::/129": prefix length out of range');
  t.equal(cidrProblem('example.com'), '"example.com" is not an IP address or CIDR');
  t.equal(plainAddress('::ffff:192.0.2.1'), '192.0.2.1');
  t.equal(plainAddress('::ffff:zz'), '::ffff:zz');
});
