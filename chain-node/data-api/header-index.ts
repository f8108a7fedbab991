/**
 * What the data API needs to plan an answer without reading every stored batch each time: per
 * gateway, the time fields of each anchored batch's header (sealedAt, watermark, first and last
 * receive times). Built from the ciphertext store on first use and extended as batches arrive. A
 * batch is stored before it is anchored, so every batch anchored by this node before a moment is in
 * the index after it: an answer planned after its access is recorded on chain (block B) holds every
 * batch this node anchored up to B (the user checks its answer against the chain as of B).
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
    let m = this.#byGateway.get(gatewayId);
    if (!m) this.#byGateway.set(gatewayId, (m = new Map()));
    const out: IndexedBatch[] = [];
    for (const seq of this.store.sequences(gatewayId)) {
      let x = m.get(seq);
      if (!x) {
        const b = this.store.meta(gatewayId, seq);
        if (!b) continue;
        let h;
        try {
          h = decodeHeader(Uint8Array.from(Buffer.from(b.submission.header, 'hex')));
        } catch {
          continue; // a damaged file: not served (the user's completeness check names the gap)
        }
        m.set(seq, (x = { seq, firstReceivedAt: h.firstReceivedAt, lastReceivedAt: h.lastReceivedAt, sealedAt: h.sealedAt, watermark: h.watermark }));
      }
      out.push(x);
    }
    return out;
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
