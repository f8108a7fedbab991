// A small FHIR R4 server over real HTTP for the fhir out tests: it accepts transaction Bundles at its
// base URL, checks them against the official R4 JSON schema, stores each entry's resource under
// Type/id (PUT semantics: the same id again updates), and answers with a transaction-response. It can
// require a login, be "down" (503) or refuse Bundles about an unknown patient with 422 and an
// OperationOutcome, as a real server does. Written here; not a mock of our own code.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Bundle, FhirResource, OperationOutcome } from 'fhir/r4';
import { fhirSchemaErrors } from './fhir-schema.helpers';

export interface FhirTestServer {
  readonly url: string;
  readonly port: number;
  /** Resources by "Type/id", latest version. */
  readonly store: Map<string, FhirResource>;
  /** Every POST that reached the server, in order: the Bundle's identifier or first Observation id, and the answer. */
  readonly posts: { status: number; auth: string | undefined; bundle: Bundle<FhirResource> | null }[];
  mode: 'up' | 'down';
  /** Patients (identifier values) the server knows; an Observation about another one is refused (422). */
  knownPatients: Set<string> | null;
  close(): Promise<void>;
}

function outcome(code: OperationOutcome['issue'][number]['code'], diagnostics: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] };
}

export async function startFhirServer(o: { port?: number; auth?: string } = {}): Promise<FhirTestServer> {
  const store = new Map<string, FhirResource>();
  const posts: FhirTestServer['posts'] = [];
  const send = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/fhir+json' });
    res.end(JSON.stringify(body));
  };
  const handle = (req: IncomingMessage, body: string, res: ServerResponse): void => {
    const answer = (status: number, b: unknown, bundle: Bundle<FhirResource> | null) => {
      posts.push({ status, auth: req.headers.authorization, bundle });
      send(res, status, b);
    };
    if (srv.mode === 'down') return answer(503, outcome('transient', 'maintenance'), null);
    if (o.auth && req.headers.authorization !== o.auth) return answer(401, outcome('login', 'authentication required'), null);
    if (req.method !== 'POST' || (req.url ?? '/') !== '/fhir') return answer(404, outcome('not-supported', `${req.method} ${req.url}`), null);
    if (!/application\/fhir\+json/.test(req.headers['content-type'] ?? '')) return answer(415, outcome('not-supported', 'content type'), null);
    let bundle: Bundle<FhirResource>;
    try {
      bundle = JSON.parse(body) as Bundle<FhirResource>;
    } catch {
      return answer(400, outcome('structure', 'not JSON'), null);
    }
    const errors = fhirSchemaErrors(bundle);
    if (errors.length) return answer(400, outcome('structure', errors.join('; ')), bundle);
    if (bundle.resourceType !== 'Bundle' || bundle.type !== 'transaction') return answer(400, outcome('invalid', 'a transaction Bundle is expected at the base URL'), bundle);
    for (const e of bundle.entry ?? []) {
      const r = e.resource;
      if (r?.resourceType === 'Observation' && srv.knownPatients && !srv.knownPatients.has(r.subject?.identifier?.value ?? '')) {
        return answer(422, outcome('processing', `Observation/${r.id}: subject ${r.subject?.identifier?.value} is not a known patient`), bundle);
      }
      if (e.request?.method !== 'PUT' || e.request.url !== `${r?.resourceType}/${r?.id}`) return answer(400, outcome('invalid', `entry ${e.fullUrl}: expected PUT ${r?.resourceType}/${r?.id}`), bundle);
    }
    const entry = (bundle.entry ?? []).map((e) => {
      const key = e.request!.url;
      const existed = store.has(key);
      store.set(key, e.resource!);
      return { response: { status: existed ? '200 OK' : '201 Created', location: `${key}/_history/1` } };
    });
    answer(200, { resourceType: 'Bundle', type: 'transaction-response', entry }, bundle);
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, Buffer.concat(chunks).toString('utf8'), res));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const srv: FhirTestServer = {
    url: `http://127.0.0.1:${port}/fhir`,
    port,
    store,
    posts,
    mode: 'up',
    knownPatients: null,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return srv;
}
