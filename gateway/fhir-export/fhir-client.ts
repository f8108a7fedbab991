/**
 * POSTs a transaction Bundle to a FHIR server's base URL and says what the answer means for the
 * queue: accepted (2xx), refused for good (a 4xx about the Bundle itself, with the server's
 * OperationOutcome), or worth retrying (no connection, timeout, 5xx, 408, 429, and 401/403 — a wrong
 * password is a configuration problem to fix, not a reason to drop readings).
 */
import type { OperationOutcome } from 'fhir/r4';

export type FhirAuth = { type: 'none' } | { type: 'basic'; username: string; password: string } | { type: 'bearer'; token: string };

export type PostResult =
  | { kind: 'accepted'; status: number; body: unknown }
  | { kind: 'refused'; status: number; outcome: OperationOutcome; body: string }
  | { kind: 'retry'; status: number | null; reason: string; retryAfterMs: number | null };

const RETRY_STATUS = new Set([401, 403, 408, 425, 429]);

export function authHeader(auth: FhirAuth): string | null {
  if (auth.type === 'basic') return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  if (auth.type === 'bearer') return `Bearer ${auth.token}`;
  return null;
}

/** An OperationOutcome from the answer, or one made from the status when the server sent none. */
export function outcomeOf(status: number, body: string): OperationOutcome {
  try {
    const o = JSON.parse(body) as { resourceType?: unknown };
    if (o && o.resourceType === 'OperationOutcome') return o as OperationOutcome;
  } catch {
    /* not JSON */
  }
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'processing', diagnostics: `HTTP ${status}${body ? `: ${body.slice(0, 200)}` : ''}` }] };
}

/** One line for a node's status: the first issue's diagnostics or details. */
export function outcomeSummary(o: OperationOutcome): string {
  const i = o.issue?.[0];
  if (!i) return 'refused';
  return (i.diagnostics ?? i.details?.text ?? i.details?.coding?.[0]?.display ?? i.code ?? 'refused').slice(0, 120);
}

function retryAfter(h: string | null): number | null {
  if (!h) return null;
  const s = Number(h);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const at = Date.parse(h);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : null;
}

export async function postTransaction(baseUrl: string, bundleJson: string, auth: FhirAuth, timeoutMs: number): Promise<PostResult> {
  const headers: Record<string, string> = { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' };
  const a = authHeader(auth);
  if (a) headers.authorization = a;
  let res: Response;
  try {
    res = await fetch(baseUrl, { method: 'POST', headers, body: bundleJson, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    return { kind: 'retry', status: null, reason: e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message), retryAfterMs: null };
  }
  const body = await res.text().catch(() => '');
  if (res.ok) {
    let parsed: unknown = body;
    try {
      parsed = JSON.parse(body);
    } catch {
      /* keep the text */
    }
    return { kind: 'accepted', status: res.status, body: parsed };
  }
  if (res.status >= 500 || RETRY_STATUS.has(res.status)) {
    return { kind: 'retry', status: res.status, reason: `HTTP ${res.status}: ${outcomeSummary(outcomeOf(res.status, body))}`, retryAfterMs: retryAfter(res.headers.get('retry-after')) };
  }
  return { kind: 'refused', status: res.status, outcome: outcomeOf(res.status, body), body };
}
