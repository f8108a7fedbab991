/**
 * A POST over HTTPS that trusts a given CA (the consortium's, for a chain node whose certificate it
 * signed): the global fetch takes no CA of its own, node:https does. Certificate and host name are
 * checked as usual; connections are kept alive per agent.
 */
import { Agent, request } from 'node:https';

export function caAgent(ca: Buffer): Agent {
  return new Agent({ keepAlive: true, ca, minVersion: 'TLSv1.2' });
}

export function httpsPost(url: URL, body: Buffer | string, contentType: string, agent: Agent, timeoutMs: number): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const data = typeof body === 'string' ? Buffer.from(body) : body;
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': contentType, 'content-length': data.length }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}

/**
 * A POST to an http:// or https:// URL: through `agent` (a CA of its own, caAgent) for https when
 * given, else the global fetch (the system's CAs and NODE_EXTRA_CA_CERTS).
 */
export async function postBody(url: URL, body: Buffer | string, contentType: string, agent: Agent | undefined, timeoutMs: number): Promise<{ status: number; body: Buffer }> {
  if (agent && url.protocol === 'https:') return httpsPost(url, body, contentType, agent, timeoutMs);
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body: typeof body === 'string' ? body : Buffer.from(body), signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}
