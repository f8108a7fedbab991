/**
 * What the data API needs to plan an answer without reading every stored batch each time: per
 * gateway, the time fields of each anchored batch's header (sealedAt, watermark, first and last
 * receive times). Read from the ciphertext store at the node's start (warm) or on first use, and
 * extended as batches arrive. A batch is stored before it is anchored, so every batch anchored by
 * this node before a moment is in the index after it: an answer planned after its access is
 * recorded on chain (block B) holds every batch this node anchored up to B (the user checks its
 * answer against the chain as of B).
 */
import { decodeHeader } from '../../protocol/batch';
import type { BatchStore } from '../batch-store';

export interface IndexedBatch {
  readonly seq: number;
  readonly firstReceivedAt: number;
  readonly lastReceivedAt: number;
  readonly sealedAt: number;
  readonly watermark: number;
}

export class HeaderIndex {
  readonly #byGateway = new Map<string, Map<number, IndexedBatch>>();

  constructor(readonly store: BatchStore) {}

  /** The anchored batches of a gateway, ascending by sequence number. */
  batches(gatewayId: string): IndexedBatch[] {
    const m = this.#of(gatewayId);
    const out: IndexedBatch[] = [];
    for (const seq of this.store.sequences(gatewayId)) {
      const x = this.#entry(gatewayId, m, seq);
      if (x) out.push(x);
    }
    return out;
  }

  /**
   * Reads what the store holds into the index ahead of the first query (the node calls it at
   * start), `chunk` batches at a time with the event loop free between chunks.
   */
  async warm(chunk = 200): Promise<void> {
    for (const gw of this.gateways()) {
      const m = this.#of(gw);
      const seqs = this.store.sequences(gw);
      for (let i = 0; i < seqs.length; i += chunk) {
        for (const seq of seqs.slice(i, i + chunk)) this.#entry(gw, m, seq);
        await new Promise<void>((r) => setImmediate(r));
      }
    }
  }

  #of(gatewayId: string): Map<number, IndexedBatch> {
    let m = this.#byGateway.get(gatewayId);
    if (!m) this.#byGateway.set(gatewayId, (m = new Map()));
    return m;
  }

  #entry(gatewayId: string, m: Map<number, IndexedBatch>, seq: number): IndexedBatch | undefined {
    const hit = m.get(seq);
    if (hit) return hit;
    const b = this.store.meta(gatewayId, seq);
    if (!b) return undefined;
    let h;
    try {
      h = decodeHeader(Uint8Array.from(Buffer.from(b.submission.header, 'hex')));
    } catch {
      return undefined; // a damaged file: not served (the user's completeness check names the gap)
    }
    const x = { seq, firstReceivedAt: h.firstReceivedAt, lastReceivedAt: h.lastReceivedAt, sealedAt: h.sealedAt, watermark: h.watermark };
    m.set(seq, x);
    return x;
  }

  gateways(): string[] {
    return this.store.gateways();
  }
}

/**
 * The run lo..hi of a gateway's batches a user needs for [from, to]: lo is the last batch sealed
 * before `from` (none of its readings, nor an earlier batch's, can be in the range) or the first
 * batch; hi is the first batch from lo on whose watermark lies after `to` (no later batch can hold
 * a reading of the range) or the last anchored one. docs/protocol.md, "sealedAt and watermark".
 */
export function planRun(batches: readonly IndexedBatch[], from: number, to: number): IndexedBatch[] {
  if (batches.length === 0) return [];
  let lo = 0;
  for (let i = 0; i < batches.length; i++) if (batches[i]!.sealedAt < from) lo = i;
  let hi = batches.length - 1;
  for (let i = lo; i < batches.length; i++) {
    if (batches[i]!.watermark > to) {
      hi = i;
      break;
    }
  }
  return batches.slice(lo, hi + 1);
}
