/**
 * Group commit for anchors: while one anchor transaction is in flight, new requests wait and then
 * go together in one folded transaction (up to `maxPerTx` batches; contracts/Anchor.sol). An idle
 * node anchors at once, a busy one amortises the transaction, its per-gateway head updates and
 * its logs over many batches (see docs/contracts.md for the gas). Each request is answered with
 * its own place in the transaction's fold (the audit path its receipt carries).
 * If a combined transaction is refused, each request is retried alone, so one bad batch never
 * blocks the others and each gets its own precise refusal.
 */
import type { AnchorClient } from '../contracts/clients';
import type { AnchorBackend, AnchorHead } from './ingest';

type AnchorRequest = Parameters<AnchorBackend['anchor']>[0];
type AnchorResult = Awaited<ReturnType<AnchorBackend['anchor']>>;

interface Pending {
  req: AnchorRequest;
  resolve: (r: AnchorResult) => void;
  reject: (e: Error) => void;
}

export class AnchorBatcher implements AnchorBackend {
  readonly #queue: Pending[] = [];
  #busy = false;
  readonly stats = { transactions: 0, batches: 0, maxPerTx: 0, gasUsed: 0, failures: 0 };

  /** Anchor requests waiting for a transaction or in the one under way. */
  get pending(): number {
    return this.#queue.length + this.#inFlight;
  }
  #inFlight = 0;

  constructor(readonly client: Pick<AnchorClient, 'head' | 'anchorFolded' | 'findAnchored'>, readonly maxPerTx = 50) {}

  head(gatewayId: string): Promise<AnchorHead> {
    return this.client.head(gatewayId);
  }

  findAnchored(...args: Parameters<AnchorBackend['findAnchored']>): ReturnType<AnchorBackend['findAnchored']> {
    return this.client.findAnchored(...args);
  }

  anchor(req: AnchorRequest): Promise<AnchorResult> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ req, resolve, reject });
      if (!this.#busy) void this.#drain();
    });
  }

  async #send(group: Pending[]): Promise<void> {
    const r = await this.client.anchorFolded(group.map((p) => p.req));
    this.stats.transactions++;
    this.stats.gasUsed += Number(r.gasUsed ?? 0n);
    this.stats.batches += group.length;
    this.stats.maxPerTx = Math.max(this.stats.maxPerTx, group.length);
    group.forEach((p, i) => p.resolve({ txHash: r.txHash, blockNumber: r.blockNumber, fold: r.folds[i]! }));
  }

  async #drain(): Promise<void> {
    this.#busy = true;
    try {
      while (this.#queue.length > 0) {
        const group = this.#queue.splice(0, this.maxPerTx);
        this.#inFlight = group.length;
        try {
          await this.#send(group);
        } catch (err) {
          this.stats.failures++;
          if (group.length === 1) group[0]!.reject(err as Error);
          else {
            for (const p of group) {
              try {
                await this.#send([p]);
              } catch (e) {
                this.stats.failures++;
                p.reject(e as Error);
              } finally {
                this.#inFlight--;
              }
            }
          }
        } finally {
          this.#inFlight = 0;
        }
      }
    } finally {
      this.#busy = false;
    }
  }
}
