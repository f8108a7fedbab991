/**
 * Batch ingest: the chain node's checks, storage and anchoring for one submitted batch.
 *
 * Order of checks: shape; the gateway is registered and active; the header decodes strictly and
 * names the submitting gateway; the envelope hashes to the header's ciphertextHash; the gateway's BLS
 * signature over the header hash verifies against its registered key; the sequence number and
 * previous hash continue the gateway's chain on chain. Then the ciphertext is stored durably, the
 * root is anchored, and a receipt signed with the node's BLS key is returned.
 * Idempotent: a batch already anchored (same gateway, seq and header hash) gets its stored receipt
 * again; a different batch claiming an anchored seq is refused.
 */
import { decodeHeader, headerHash } from '../protocol/batch';
import { blsSign, blsVerify } from '../protocol/bls';
import { sha256 } from '../protocol/hash';
import { receiptMessage, type BatchReceipt, type BatchSubmission, type SignedReceipt } from '../protocol/submission';
import type { BatchStore } from './batch-store';

export interface GatewayRecord {
  readonly blsPublicKey: Uint8Array;
  readonly active: boolean;
}

export interface RegistryView {
  gateway(id: string): Promise<GatewayRecord | undefined>;
}

export interface AnchorHead {
  readonly seq: number;
  readonly headerHash: Uint8Array;
}

export interface AnchorBackend {
  head(gatewayId: string): Promise<AnchorHead>;
  anchor(a: { gatewayId: string; seq: number; prevHash: Uint8Array; headerHash: Uint8Array; root: Uint8Array; count: number }): Promise<{ txHash: string; blockNumber: number }>;
}

/** A refusal with the HTTP status to answer and a reason safe to show the gateway. */
export class IngestError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'IngestError';
  }
}

export interface IngestCounters {
  accepted: number;
  duplicates: number;
  refused: number;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const eq = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

export class BatchIngest {
  readonly counters: IngestCounters = { accepted: 0, duplicates: 0, refused: 0 };
  /** One queue per gateway: its batches are checked and anchored in order; gateways run side by side. */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(
    readonly opts: {
      nodeId: string;
      blsSecretKey: Uint8Array;
      registry: RegistryView;
      anchors: AnchorBackend;
      store: BatchStore;
      log: (level: 'info' | 'warn', msg: string) => void;
    },
  ) {}

  /** A gateway's batches are processed one at a time, in order; different gateways concurrently. */
  submit(sub: BatchSubmission): Promise<SignedReceipt> {
    const prev = this.#queues.get(sub.gatewayId) ?? Promise.resolve();
    const run = prev.then(() => this.#ingest(sub));
    const tail = run.catch(() => undefined);
    this.#queues.set(sub.gatewayId, tail);
    void tail.then(() => {
      if (this.#queues.get(sub.gatewayId) === tail) this.#queues.delete(sub.gatewayId);
    });
    return run.catch((err: unknown) => {
      if (err instanceof IngestError) {
        this.counters.refused++;
        this.opts.log('warn', `refused batch from ${sub.gatewayId}: ${err.message}`);
      }
      throw err;
    });
  }

  async #ingest(sub: BatchSubmission): Promise<SignedReceipt> {
    const gw = await this.opts.registry.gateway(sub.gatewayId);
    if (!gw) throw new IngestError(403, `gateway ${sub.gatewayId} is not registered`);
    if (!gw.active) throw new IngestError(403, `gateway ${sub.gatewayId} is revoked`);
    let header;
    try {
      header = decodeHeader(Uint8Array.from(Buffer.from(sub.header, 'hex')));
    } catch (err) {
      throw new IngestError(400, `header: ${(err as Error).message}`);
    }
    if (header.gatewayId !== sub.gatewayId) throw new IngestError(400, `header names gateway ${header.gatewayId}, submitted as ${sub.gatewayId}`);
    const envelope = Uint8Array.from(Buffer.from(sub.envelope, 'base64'));
    if (!eq(sha256(envelope), header.ciphertextHash)) throw new IngestError(400, `batch ${header.seq}: envelope does not hash to the header's ciphertextHash`);
    const hh = headerHash(header);
    if (!blsVerify(gw.blsPublicKey, hh, Uint8Array.from(Buffer.from(sub.headerSignature, 'hex')))) {
      throw new IngestError(403, `batch ${header.seq}: signature does not verify against ${sub.gatewayId}'s registered key`);
    }

    const stored = this.opts.store.get(sub.gatewayId, header.seq);
    if (stored?.receipt) {
      if (stored.receipt.receipt.headerHash === hex(hh)) {
        this.counters.duplicates++;
        return stored.receipt;
      }
      throw new IngestError(409, `batch ${header.seq} of ${sub.gatewayId} is already anchored with another header`);
    }
    const head = await this.opts.anchors.head(sub.gatewayId);
    if (header.seq <= head.seq) throw new IngestError(409, `batch ${header.seq} of ${sub.gatewayId} is already anchored (head ${head.seq}) but not stored here`);
    if (header.seq !== head.seq + 1) throw new IngestError(409, `batch ${header.seq} of ${sub.gatewayId} leaves a gap: next expected ${head.seq + 1}`);
    if (!eq(header.prevHash, head.headerHash)) throw new IngestError(409, `batch ${header.seq} of ${sub.gatewayId}: previous hash ${hex(header.prevHash).slice(0, 16)}… does not match anchored head ${hex(head.headerHash).slice(0, 16)}…`);

    // Durable before anchoring: an anchored root must always have its ciphertext.
    this.opts.store.put(sub.gatewayId, header.seq, { submission: sub, receipt: null });
    const tx = await this.opts.anchors.anchor({ gatewayId: sub.gatewayId, seq: header.seq, prevHash: header.prevHash, headerHash: hh, root: header.root, count: header.count });
    const receipt: BatchReceipt = {
      v: 1,
      nodeId: this.opts.nodeId,
      gatewayId: sub.gatewayId,
      seq: header.seq,
      headerHash: hex(hh),
      root: hex(header.root),
      count: header.count,
      txHash: tx.txHash,
      blockNumber: tx.blockNumber,
      status: 'anchored',
    };
    const signed: SignedReceipt = { receipt, signature: hex(blsSign(this.opts.blsSecretKey, receiptMessage(receipt))) };
    this.opts.store.put(sub.gatewayId, header.seq, { submission: sub, receipt: signed });
    this.counters.accepted++;
    return signed;
  }
}
