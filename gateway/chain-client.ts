/**
 * HTTP client for a chain node's ingest API: submits one batch, returns the node's verified receipt.
 *
 * A receipt counts only if it is signed by the BLS key the on-chain registry lists for that node and
 * matches the batch we sent (gateway, sequence number, header hash, root). Anything else is an error
 * and the outbox retries.
 */
import { blsVerify } from '../protocol/bls';
import { parseSignedReceipt, receiptMessage, type BatchSubmission, type SignedReceipt } from '../protocol/submission';

export interface NodeKeyResolver {
  /** The node's current BLS public key from the registry; throws if unknown or revoked. */
  nodeBlsKey(nodeId: string): Promise<Uint8Array>;
}

export class SubmitError extends Error {
  constructor(message: string, readonly retryable: boolean, readonly status?: number) {
    super(message);
    this.name = 'SubmitError';
  }
}

export interface ChainNodeClientOptions {
  url: string;
  nodeId: string;
  keys: NodeKeyResolver;
  timeoutMs?: number;
}

export class ChainNodeClient {
  constructor(readonly opts: ChainNodeClientOptions) {}

  async submit(sub: BatchSubmission, expect: { seq: number; headerHash: string; root: string }): Promise<SignedReceipt> {
    let res: Response;
    try {
      res = await fetch(new URL('/v1/batches', this.opts.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(sub),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 60_000),
      });
    } catch (err) {
      throw new SubmitError(`chain node ${this.opts.url} unreachable: ${(err as Error).message}`, true);
    }
    const text = await res.text();
    if (!res.ok) {
      let reason = text.slice(0, 300);
      try {
        reason = (JSON.parse(text) as { error?: string }).error ?? reason;
      } catch {
        // not JSON: keep the raw text (already truncated)
      }
      // 4xx other than 409/429 means this batch itself is refused: retrying the same bytes will not help,
      // but we still keep it (never drop) and retry slowly, because a registry update may fix it.
      throw new SubmitError(`chain node refused batch ${expect.seq}: HTTP ${res.status} ${reason}`, true, res.status);
    }
    let signed: SignedReceipt;
    try {
      signed = parseSignedReceipt(JSON.parse(text));
    } catch (err) {
      throw new SubmitError(`chain node sent a malformed receipt for batch ${expect.seq}: ${(err as Error).message}`, true);
    }
    const r = signed.receipt;
    if (r.nodeId !== this.opts.nodeId || r.gatewayId !== sub.gatewayId || r.seq !== expect.seq || r.headerHash !== expect.headerHash || r.root !== expect.root) {
      throw new SubmitError(`receipt for batch ${expect.seq} does not match what was sent (node ${r.nodeId}, seq ${r.seq})`, true);
    }
    const pk = await this.opts.keys.nodeBlsKey(this.opts.nodeId);
    if (!blsVerify(pk, receiptMessage(r), Uint8Array.from(Buffer.from(signed.signature, 'hex')))) {
      throw new SubmitError(`receipt for batch ${expect.seq} is not signed by node ${this.opts.nodeId}'s registered key`, true);
    }
    return signed;
  }
}
