/**
 * Submits batches to one of several consortium chain nodes: the current one until it fails
 * `switchAfter` times in a row (unreachable, handshake refused, HTTP errors), then the next. The
 * outbox retries with backoff as before, so a batch goes to the next node on a later attempt. Safe
 * because ingest is idempotent across nodes: a node asked for a batch another node already anchored
 * stores a copy and answers with a receipt for that anchoring (chain-node/ingest.ts).
 */
import type { LogFn } from '../../common/log';
import type { SignedReceipt, BatchSubmission } from '../../protocol/submission';

export interface ChainTarget {
  nodeId: string;
  url: string;
}

export interface TargetClient {
  submit(sub: BatchSubmission, expect: { seq: number; headerHash: string; root: string }): Promise<SignedReceipt>;
  /** Several consecutive batches in one request (gateway/chain/chain-client.ts). */
  submitMany?(items: ReadonlyArray<{ sub: BatchSubmission; expect: { seq: number; headerHash: string; root: string } }>): Promise<Array<SignedReceipt | Error>>;
}

export class FailoverChainClient {
  #i = 0;
  #failures = 0;
  readonly counters = { switches: 0 };

  constructor(
    readonly targets: ReadonlyArray<ChainTarget & { client: TargetClient }>,
    readonly opts: { switchAfter?: number; log?: LogFn; stats?: { failovers: number } } = {},
  ) {
    if (targets.length === 0) throw new Error('no chain node to submit to');
  }

  get current(): ChainTarget {
    const t = this.targets[this.#i]!;
    return { nodeId: t.nodeId, url: t.url };
  }

  submit(sub: BatchSubmission, expect: { seq: number; headerHash: string; root: string }): Promise<SignedReceipt> {
    return this.#through((c) => c.submit(sub, expect));
  }

  /** Several batches in one request where the current node's client can (else one: the outbox sends the rest next). */
  submitMany(items: ReadonlyArray<{ sub: BatchSubmission; expect: { seq: number; headerHash: string; root: string } }>): Promise<Array<SignedReceipt | Error>> {
    return this.#through(async (c) => {
      const results = c.submitMany ? await c.submitMany(items) : [await c.submit(items[0]!.sub, items[0]!.expect)];
      // A refused first batch counts as a failure of this node, as a refused `submit` does.
      if (results[0] instanceof Error) throw results[0];
      return results;
    });
  }

  async #through<T>(call: (c: TargetClient) => Promise<T>): Promise<T> {
    const t = this.targets[this.#i]!;
    try {
      const r = await call(t.client);
      this.#failures = 0;
      return r;
    } catch (err) {
      if (++this.#failures >= (this.opts.switchAfter ?? 3) && this.targets.length > 1) {
        this.#failures = 0;
        this.#i = (this.#i + 1) % this.targets.length;
        this.counters.switches++;
        if (this.opts.stats) this.opts.stats.failovers++;
        this.opts.log?.('warn', `chain node ${t.nodeId} (${t.url}) failed repeatedly (${(err as Error).message}); switching to ${this.current.nodeId} (${this.current.url})`, { component: 'chain', event: 'failover', from: t.nodeId, to: this.current.nodeId });
      }
      throw err;
    }
  }
}

/** "node-1 https://node-1.example:7545" per line (or separated by commas): the consortium nodes to use, in order. */
export function parseChainTargets(text: string): { targets: ChainTarget[] } | { problem: string } {
  const items = text.split(/[\n,]+/).map((l) => l.trim()).filter((l) => l !== '');
  if (items.length === 0) return { problem: 'no chain node given ("<node id> <url>" per line)' };
  const targets: ChainTarget[] = [];
  for (const [i, item] of items.entries()) {
    const [nodeId = '', url = '', ...rest] = item.split(/\s+/);
    if (rest.length > 0 || !url) return { problem: `line ${i + 1} "${item}": expected "<node id> <url>"` };
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/.test(nodeId)) return { problem: `line ${i + 1}: "${nodeId}" is not a registry id` };
    if (!/^https?:\/\/[^\s/]+/.test(url)) return { problem: `line ${i + 1}: "${url}" is not an http(s) URL` };
    if (targets.some((t) => t.nodeId === nodeId)) return { problem: `line ${i + 1}: node ${nodeId} comes twice` };
    targets.push({ nodeId, url });
  }
  return { targets };
}
