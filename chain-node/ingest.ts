/**
 * Batch ingest: the chain node's checks, storage and anchoring for one submitted batch.
 *
 * Order of checks: shape; the gateway is registered and active; the header decodes strictly and
 * names the submitting gateway; the envelope matches the header (directory hash, slice count and
 * counts, time spans, root = MTH of the slice roots, every slice's hash: protocol/batch.ts
 * checkEnvelope — all that can be checked without a key); the gateway's BLS
 * signature over the header hash verifies against its registered key; the sequence number and
 * previous hash continue the gateway's chain on chain. Then the ciphertext is stored durably, the
 * root is anchored, and a receipt signed with the node's BLS key is returned.
 * Idempotent: a batch already anchored (same gateway, seq and header hash) gets its stored receipt
 * again; a different batch claiming an anchored seq is refused.
 *
 * Crash safety: the ciphertext is on disk (receipt: null) before the anchor transaction is sent, and
 * the receipt is answered only after the transaction is mined, so a receipt always means "stored and
 * anchored". If the node dies in between, the batch is either anchored already (found by its
 * Anchored event: the receipt is rebuilt from it, nothing is anchored twice) or not (it is anchored
 * now). `resumePending` does this at start for every stored batch without a receipt; a gateway that
 * resends such a batch gets the same treatment.
 */
import type { LogFn } from '../common/log';
import { checkEnvelope, decodeHeader, headerHash, type BatchHeader } from '../protocol/batch';
import { blsSign, blsVerify } from '../protocol/bls';
import { ProtocolError } from '../protocol/errors';
import type { FoldProof } from '../protocol/fold';
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

/** Where a batch was anchored: the transaction, and the batch's place in the transaction's fold (protocol/fold.ts). */
export interface AnchorPlace {
  readonly txHash: string;
  readonly blockNumber: number;
  readonly fold?: FoldProof | null;
}

/** What the chain holds for a batch (contracts/clients.ts FoundAnchor): in folded mode its header hash is rebuilt from the headers at hand. */
export interface FoundAnchor extends AnchorPlace {
  /** null: the header hash could not be shown from the headers at hand (`why`) */
  readonly headerHash: Uint8Array | null;
  readonly why?: string;
  readonly group: { readonly firstSeq: number; readonly count: number };
}

export interface AnchorBackend {
  head(gatewayId: string): Promise<AnchorHead>;
  /** `header` and `signature`: the gateway's signed header, which a trustless Anchor contract checks itself. */
  anchor(a: { gatewayId: string; seq: number; prevHash: Uint8Array; headerHash: Uint8Array; root: Uint8Array; count: number; header?: Uint8Array; signature?: Uint8Array }): Promise<AnchorPlace>;
  /**
   * The anchor of (gateway, seq) if there is one on chain, with the transaction that made it. The
   * chain holds only each group's head in folded mode: `headers` (the node's copies) link the rest.
   */
  findAnchored(gatewayId: string, seq: number, headers?: (gatewayId: string, seq: number) => BatchHeader | null | undefined): Promise<FoundAnchor | null>;
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
  /** Batches another node had anchored, stored here as a copy with a receipt for that anchoring. */
  replicated: number;
  /** Batches stored before a restart without a receipt, completed at start. */
  resumed: number;
}

/** A refusal's status as a metric label: invalid (400), forbidden (403: unknown or revoked gateway, bad signature), conflict (409: gap, rewrite), other. */
export const REFUSAL_REASONS = ['invalid', 'forbidden', 'conflict', 'other'] as const;
export function refusalReason(status: number): (typeof REFUSAL_REASONS)[number] {
  return status === 400 ? 'invalid' : status === 403 ? 'forbidden' : status === 409 ? 'conflict' : 'other';
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const eq = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

export class BatchIngest {
  readonly counters: IngestCounters = { accepted: 0, duplicates: 0, refused: 0, resumed: 0, replicated: 0 };
  /** Refused batches by reason (refusalReason of the HTTP-like status), for the metrics. */
  readonly refusedByReason: Record<string, number> = {};
  /** One queue per gateway: its batches are checked and anchored in order; gateways run side by side. */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(
    readonly opts: {
      nodeId: string;
      blsSecretKey: Uint8Array;
      registry: RegistryView;
      anchors: AnchorBackend;
      store: BatchStore;
      log: LogFn;
      /** Checks a gateway's header signature (default: noble; the node passes its faster pairing backend). */
      verify?: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;
    },
  ) {}

  /**
   * A gateway's batches are checked and stored one at a time, in order; different gateways
   * concurrently. The queue moves on as soon as a batch is stored and handed to the anchor batcher
   * (not when its transaction is mined), so the gateway's next batches, checked against that
   * pending tip, can join the same folded transaction. The promise resolves with the receipt, once
   * mined.
   */
  submit(sub: BatchSubmission): Promise<SignedReceipt> {
    const prev = this.#queues.get(sub.gatewayId) ?? Promise.resolve();
    const run = prev.then(() => this.#ingest(sub));
    const tail = run.catch(() => undefined);
    this.#queues.set(sub.gatewayId, tail);
    void tail.then(() => {
      if (this.#queues.get(sub.gatewayId) === tail) this.#queues.delete(sub.gatewayId);
    });
    return run.then((r) => ('anchoring' in r ? r.anchoring : r)).catch((err: unknown) => {
      if (err instanceof IngestError) {
        this.counters.refused++;
        const reason = refusalReason(err.status);
        this.refusedByReason[reason] = (this.refusedByReason[reason] ?? 0) + 1;
        this.opts.log('warn', `refused batch from ${sub.gatewayId}: ${err.message}`, { component: 'ingest', event: 'batch-refused', gateway: sub.gatewayId, status: err.status });
      }
      throw err;
    });
  }

  /** Per gateway, the last batch stored and handed to the anchor batcher whose transaction is not mined yet. */
  readonly #tips = new Map<string, { seq: number; headerHash: Uint8Array }>();
  /** Those batches' receipts to come, by "gateway#seq" (a resend while anchoring waits for the same). */
  readonly #anchoring = new Map<string, { headerHash: string; receipt: Promise<SignedReceipt> }>();

  async #ingest(sub: BatchSubmission): Promise<SignedReceipt | { anchoring: Promise<SignedReceipt> }> {
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
    try {
      checkEnvelope(header, envelope);
    } catch (err) {
      if (err instanceof ProtocolError) throw new IngestError(400, `batch ${header.seq}: envelope does not match the header: ${err.message}`);
      throw err;
    }
    const hh = headerHash(header);
    if (!(this.opts.verify ?? blsVerify)(gw.blsPublicKey, hh, Uint8Array.from(Buffer.from(sub.headerSignature, 'hex')))) {
      throw new IngestError(403, `batch ${header.seq}: signature does not verify against ${sub.gatewayId}'s registered key`);
    }

    const pending = this.#anchoring.get(`${sub.gatewayId}#${header.seq}`);
    if (pending) {
      if (pending.headerHash !== hex(hh)) throw new IngestError(409, `batch ${header.seq} of ${sub.gatewayId} is being anchored with another header`);
      this.counters.duplicates++;
      return { anchoring: pending.receipt };
    }
    const stored = this.opts.store.get(sub.gatewayId, header.seq);
    if (stored?.receipt) {
      if (stored.receipt.receipt.headerHash === hex(hh)) {
        this.counters.duplicates++;
        return stored.receipt;
      }
      throw new IngestError(409, `batch ${header.seq} of ${sub.gatewayId} is already anchored with another header`);
    }
    // The node's own copies of headers (and this one), to link a folded group to its anchored head.
    const headers = (g: string, seq: number): BatchHeader | null => {
      if (g === sub.gatewayId && seq === header.seq) return header;
      const b = this.opts.store.meta(g, seq);
      try {
        return b ? decodeHeader(Uint8Array.from(Buffer.from(b.submission.header, 'hex'))) : null;
      } catch {
        return null;
      }
    };
    if (stored) {
      // Stored before a crash, receipt never written: anchored already, or not yet.
      const found = await this.opts.anchors.findAnchored(sub.gatewayId, header.seq, headers);
      if (found) return this.#receipt(sub, header, hh, this.#sameBatch(sub, header.seq, hh, found));
    }
    const head = await this.opts.anchors.head(sub.gatewayId);
    if (header.seq <= head.seq) {
      // Anchored by another consortium node (the gateway failed over to us after that node
      // anchored it but before its receipt arrived): if it is the same batch, keep a copy of the
      // ciphertext and answer with a receipt naming that anchoring transaction.
      const found = await this.opts.anchors.findAnchored(sub.gatewayId, header.seq, headers);
      if (!found) throw new IngestError(409, `batch ${header.seq} of ${sub.gatewayId} is already anchored with another header (head ${head.seq})`);
      if (found.headerHash === null && !stored && found.why?.includes('is not at hand')) {
        // Folded mode, a batch inside a group another node anchored: the group's later batches
        // show its hash, and the gateway sends them next. Kept meanwhile (no receipt), so that
        // they, and this one when resent, link from the store.
        this.opts.store.put(sub.gatewayId, header.seq, { submission: sub, receipt: null });
      }
      const place = this.#sameBatch(sub, header.seq, hh, found);
      if (!stored) this.opts.store.put(sub.gatewayId, header.seq, { submission: sub, receipt: null });
      this.counters.replicated++;
      return this.#receipt(sub, header, hh, place);
    }
    // The chain's head, or past it the last batch of this gateway still being anchored here.
    const tip = this.#tips.get(sub.gatewayId);
    const after = tip && tip.seq > head.seq ? tip : head;
    const what = after === head ? 'anchored head' : `batch ${after.seq} being anchored`;
    if (header.seq !== after.seq + 1) throw new IngestError(409, `batch ${header.seq} of ${sub.gatewayId} leaves a gap: next expected ${after.seq + 1}`);
    if (!eq(header.prevHash, after.headerHash)) throw new IngestError(409, `batch ${header.seq} of ${sub.gatewayId}: previous hash ${hex(header.prevHash).slice(0, 16)}… does not match ${what} ${hex(after.headerHash).slice(0, 16)}…`);

    // Durable before anchoring: an anchored root must always have its ciphertext.
    this.opts.store.put(sub.gatewayId, header.seq, { submission: sub, receipt: null });
    const key = `${sub.gatewayId}#${header.seq}`;
    this.#tips.set(sub.gatewayId, { seq: header.seq, headerHash: hh });
    const receipt = this.opts.anchors
      .anchor({ gatewayId: sub.gatewayId, seq: header.seq, prevHash: header.prevHash, headerHash: hh, root: header.root, count: header.count, header: Uint8Array.from(Buffer.from(sub.header, 'hex')), signature: Uint8Array.from(Buffer.from(sub.headerSignature, 'hex')) })
      .then(
        (tx) => {
          this.#anchoring.delete(key);
          if (this.#tips.get(sub.gatewayId)?.seq === header.seq) this.#tips.delete(sub.gatewayId);
          return this.#receipt(sub, header, hh, tx);
        },
        (err: unknown) => {
          // The batches after it, anchored after it, fail too; the gateway resends from this one.
          this.#anchoring.delete(key);
          const t = this.#tips.get(sub.gatewayId);
          if (t && t.seq >= header.seq) this.#tips.delete(sub.gatewayId);
          throw err;
        },
      );
    this.#anchoring.set(key, { headerHash: hex(hh), receipt });
    return { anchoring: receipt };
  }

  /** The anchor found for (gateway, seq) is this batch's: else 409 (another header) or 503 (its link to the head is not at hand yet). */
  #sameBatch(sub: BatchSubmission, seq: number, hh: Uint8Array, found: FoundAnchor): AnchorPlace {
    if (found.headerHash === null) {
      const last = found.group.firstSeq + found.group.count - 1;
      if (found.why?.includes('is not at hand')) throw new IngestError(503, `batch ${seq} of ${sub.gatewayId} was anchored in a group up to batch ${last}, whose headers show its hash: send batches ${seq + 1}..${last}, then this one again`);
      throw new IngestError(409, `batch ${seq} of ${sub.gatewayId} is already anchored with another header (${found.why ?? 'its link to the anchored head fails'})`);
    }
    if (!eq(found.headerHash, hh)) throw new IngestError(409, `batch ${seq} of ${sub.gatewayId} is already anchored with another header`);
    return found;
  }

  #receipt(sub: BatchSubmission, header: ReturnType<typeof decodeHeader>, hh: Uint8Array, tx: AnchorPlace): SignedReceipt {
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
      ...(tx.fold ? { fold: tx.fold } : {}),
    };
    const signed: SignedReceipt = { receipt, signature: hex(blsSign(this.opts.blsSecretKey, receiptMessage(receipt))) };
    this.opts.store.put(sub.gatewayId, header.seq, { submission: sub, receipt: signed });
    this.counters.accepted++;
    return signed;
  }

  /**
   * Completes the batches stored without a receipt (the node stopped between storing and
   * answering), per gateway in sequence order, through the same checks as a submission. Batches of
   * a gateway are anchored in order, so its pending ones are the tail of its store.
   */
  async resumePending(): Promise<number> {
    const { store, log } = this.opts;
    const work: Array<Promise<unknown>> = [];
    let n = 0;
    for (const gw of store.gateways()) {
      const seqs = store.sequences(gw);
      const tail: BatchSubmission[] = [];
      for (let i = seqs.length - 1; i >= 0; i--) {
        const b = store.get(gw, seqs[i]!);
        if (!b || b.receipt) break;
        tail.unshift(b.submission);
      }
      for (const sub of tail) {
        n++;
        work.push(
          this.submit(sub).then(
            (r) => {
              this.counters.resumed++;
              log('info', `resumed batch ${r.receipt.seq} of ${gw}: anchored in ${r.receipt.txHash}`, { component: 'ingest', event: 'resumed', gateway: gw, seq: r.receipt.seq, txHash: r.receipt.txHash });
            },
            (err: Error) => log('warn', `could not resume batch of ${gw}: ${err.message}`),
          ),
        );
      }
    }
    await Promise.all(work);
    return n;
  }
}
