/**
 * Throwaway PKI for TLS tests, made with the `openssl` CLI at test time (nothing is committed):
 * a CA, a server certificate for 127.0.0.1 and client certificates signed by it, plus a client
 * certificate from another CA the gateway does not trust. EC P-256 keys, valid for one day.
 */
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Issued = {
  /** PEM file paths. */
  readonly certFile: string;
  readonly keyFile: string;
  /** PEM texts. */
  readonly cert: string;
  readonly key: string;
  /** RFC 8705 `x5t#S256`: base64url(SHA-256(DER)). */
  readonly x5tS256: string;
};

export type TestPki = {
  readonly caFile: string;
  readonly ca: string;
  readonly server: Issued;
  /** Signed by the CA; the name is the certificate's CN. */
  client(name: string): Issued;
  /** A client certificate from another CA (does not verify against `caFile`). */
  readonly stranger: Issued;
};

const openssl = (args: string[], cwd: string): void => {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
};

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function makeCa(dir: string, name: string): { certFile: string; keyFile: string } {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  openssl(['req', '-x509', ...ecKey, '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', `/CN=${name}`], dir);
  return { certFile, keyFile };
}

let serial = 1;
function issue(dir: string, ca: { certFile: string; keyFile: string }, name: string, ext: string): Issued {
  const keyFile = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const certFile = join(dir, `${name}.pem`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(extFile, `${ext}\n`);
  openssl(['req', ...ecKey, '-keyout', keyFile, '-out', csr, '-subj', `/CN=${name}`], dir);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', String(serial++), '-days', '1', '-out', certFile, '-extfile', extFile], dir);
  const cert = readFileSync(certFile, 'utf8');
  return { certFile, keyFile, cert, key: readFileSync(keyFile, 'utf8'), x5tS256: createHash('sha256').update(new X509Certificate(cert).raw).digest('base64url') };
}

/** Makes the PKI in `dir` (an existing, empty temporary folder). */
export function makeTestPki(dir: string): TestPki {
  const ca = makeCa(dir, 'test-ca');
  const other = makeCa(dir, 'other-ca');
  const clientExt = 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth';
  const clients = new Map<string, Issued>();
  return {
    caFile: ca.certFile,
    ca: readFileSync(ca.certFile, 'utf8'),
    server: issue(dir, ca, 'server', 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1'),
    client(name) {
      let c = clients.get(name);
      if (!c) clients.set(name, (c = issue(dir, ca, name, clientExt)));
      return c;
    },
    stranger: issue(dir, other, 'stranger', clientExt),
  };
}
