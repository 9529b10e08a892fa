import t from 'tap';
import { createRefusalCounter, renderMetrics } from '../../gateway/metrics.ts';
import { createVerifiedCache } from '../../gateway/identity/verified-cache.ts';

t.test('refusal counters render as Prometheus text, sorted, labels escaped', async (t) => {
  const c = createRefusalCounter();
  for (const r of ['auth.token_expired', 'auth.token_expired', 'auth.key_unknown']) c.count(r);
  const text = renderMetrics(c, [
    { issuer: 'https://idp/"x"', ready: true, keys: { ready: true, jwksUri: 'u', kids: ['k'], generation: 1, fetches: { ok: 3, failed: 1, onDemand: 2 }, stale: false } },
    { issuer: 'https://down', ready: false, introspection: { ok: 7, failed: 2 } },
  ]);
  t.equal(
    text,
    [
      '# HELP gateway_refusals_total Requests refused, by reason code.',
      '# TYPE gateway_refusals_total counter',
      'gateway_refusals_total{reason="auth.key_unknown"} 1',
      'gateway_refusals_total{reason="auth.token_expired"} 2',
      '# HELP gateway_jwks_fetches_total JWKS fetches per issuer, by result.',
      '# TYPE gateway_jwks_fetches_total counter',
      'gateway_jwks_fetches_total{issuer="https://idp/\\"x\\"",result="ok"} 3',
      'gateway_jwks_fetches_total{issuer="https://idp/\\"x\\"",result="failed"} 1',
      '# HELP gateway_jwks_refetches_on_unknown_kid_total JWKS refetches caused by an unknown kid or stale keys (at most one per cooldown).',
      '# TYPE gateway_jwks_refetches_on_unknown_kid_total counter',
      'gateway_jwks_refetches_on_unknown_kid_total{issuer="https://idp/\\"x\\""} 2',
      '# HELP gateway_introspection_requests_total RFC 7662 introspection requests per issuer, by result (cache hits are not requests).',
      '# TYPE gateway_introspection_requests_total counter',
      'gateway_introspection_requests_total{issuer="https://down",result="ok"} 7',
      'gateway_introspection_requests_total{issuer="https://down",result="failed"} 2',
      '# HELP gateway_issuer_ready 1 when the issuer has fresh keys.',
      '# TYPE gateway_issuer_ready gauge',
      'gateway_issuer_ready{issuer="https://idp/\\"x\\""} 1',
      'gateway_issuer_ready{issuer="https://down"} 0',
      '',
    ].join('\n'),
  );
});

t.test('verified cache: an entry the validity check rejects is dropped', async (t) => {
  const cache = createVerifiedCache<{ v: number; ok: boolean }>({ max: 10, maxTtlMs: 60_000 });
  const entry = { v: 1, ok: true };
  cache.set('token', entry, 2_000_000, 1_000_000);
  t.equal(cache.get('token', 1_000_001, (e) => e.ok)?.v, 1);
  entry.ok = false;
  t.equal(cache.get('token', 1_000_002, (e) => e.ok), undefined, 'key no longer published');
  t.equal(cache.size(), 0, 'and the entry is gone');
});

t.test('verified cache: max 0 (limits.verifiedCacheEntries: 0) turns caching off instead of throwing', async (t) => {
  const cache = createVerifiedCache<{ v: number }>({ max: 0, maxTtlMs: 60_000 });
  cache.set('token', { v: 1 }, 2_000_000, 1_000_000);
  t.equal(cache.get('token', 1_000_001), undefined);
  t.equal(cache.size(), 0);
});
