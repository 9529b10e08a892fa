/**
 * One HTTP request sent exactly as given: the target is not normalized (fetch would resolve dot
 * segments) and header lines may repeat (fetch would merge or refuse them).
 */
import { request as httpRequest } from 'node:http';

export type RawAnswer = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

/** `headers` as raw lines (name, value, name, value…: Node then adds no Host of its own) or an object. */
export function rawRequest(baseUrl: string, target: string, headers: readonly string[] | Record<string, string> = {}, method = 'GET'): Promise<RawAnswer> {
  const u = new URL(baseUrl);
  const hdrs = Array.isArray(headers) ? ['host', u.host, ...headers] : headers;
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method, path: target, headers: hdrs as string[] | Record<string, string> }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
