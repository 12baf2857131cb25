// The certificates and keys of a throw-away Kubernetes control plane on 127.0.0.1, made with openssl
// (ECDSA P-256: quick to generate, and accepted everywhere these are used):
//
//   ca                   the cluster's CA: signs the API server's serving certificate and the clients'
//   apiserver            serving certificate for 127.0.0.1 and the in-cluster names
//   admin, kwok          clients in group system:masters (kwok writes the status of nodes and pods)
//   controller-manager   user system:kube-controller-manager, scheduler user system:kube-scheduler
//   front-proxy-ca, front-proxy-client   the aggregation layer's, without which the controller
//                        manager and the scheduler log a missing CA bundle every minute
//   sa                   the key pair that signs and checks service account tokens
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describeRun, run } from '../../native/tools.ts';

export type ClientName = 'admin' | 'kwok' | 'controller-manager' | 'scheduler';

const CLIENT_SUBJECTS: Record<ClientName, string> = {
  admin: '/O=system:masters/CN=kubernetes-admin',
  kwok: '/O=system:masters/CN=kwok',
  'controller-manager': '/CN=system:kube-controller-manager',
  scheduler: '/CN=system:kube-scheduler',
};

const CA_EXTENSIONS = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'];
const CLIENT_EXTENSIONS = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n';
const SERVER_EXTENSIONS =
  'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' +
  'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n';
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function openssl(args: string[], cwd: string): Promise<void> {
  let result: Awaited<ReturnType<typeof run>>;
  try {
    result = await run('openssl', args, { cwd });
  } catch (error) {
    throw new Error(`openssl could not be run (${(error as Error).message}): the API-server test makes its certificates with it; install openssl`);
  }
  if (result.code !== 0) throw new Error(describeRun(`openssl ${args.join(' ')}`, result));
}

async function selfSignedCa(dir: string, name: string): Promise<void> {
  await openssl(['req', '-x509', ...EC_KEY, '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`, ...CA_EXTENSIONS], dir);
}

async function signed(dir: string, name: string, subject: string, extensions: string, ca: string): Promise<void> {
  writeFileSync(path.join(dir, `${name}.ext`), extensions);
  await openssl(['req', ...EC_KEY, '-subj', subject, '-keyout', `${name}.key`, '-out', `${name}.csr`], dir);
  await openssl(
    [
      'x509',
      '-req',
      '-days',
      '2',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    ],
    dir,
  );
}

/** Writes every file above into dir: <name>.crt and <name>.key, and sa.key with sa.pub. */
export async function makePki(dir: string): Promise<void> {
  await selfSignedCa(dir, 'ca');
  await selfSignedCa(dir, 'front-proxy-ca');
  await signed(dir, 'apiserver', '/CN=kube-apiserver', SERVER_EXTENSIONS, 'ca');
  for (const [name, subject] of Object.entries(CLIENT_SUBJECTS)) await signed(dir, name, subject, CLIENT_EXTENSIONS, 'ca');
  await signed(dir, 'front-proxy-client', '/CN=front-proxy-client', CLIENT_EXTENSIONS, 'front-proxy-ca');
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'sa.key'], dir);
  await openssl(['ec', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
}
