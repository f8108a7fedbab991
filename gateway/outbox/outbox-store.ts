/**
 * The gateway's durable batch state, in the state database (gateway/journal/state-db.ts): the chain head
 * (last sealed sequence number and header hash) and the outbox of sealed batches waiting for a
 * receipt.
 *
 * Sealing commits in one transaction: the batch's readings leave the journal, the head advances and
 * the batch is queued. After a crash a batch is either sealed AND queued with its readings out of the
 * journal, or none of it happened and its readings are still journaled. A batch leaves the outbox
 * only when its receipt is recorded.
 */
import type { OutboxItem } from './outbox';
import { syncCommitted, type StateDb } from '../journal/state-db';

export interface ChainHead {
  readonly seq: number;
  readonly headerHash: Uint8Array;
}

export class OutboxStore {
  readonly #db: StateDb;
  readonly #commit: (item: OutboxItem, journalIds: readonly number[]) => void;

  constructor(db: StateDb) {
    this.#db = db;
    const advance = db.prepare('UPDATE chain_head SET seq = ?, header_hash = ? WHERE id = 1 AND seq = ?');
    const insert = db.prepare('INSERT INTO outbox (seq, count, header_hash, root, submission, sealed_at) VALUES (?, ?, ?, ?, ?, ?)');
    // One statement for the whole batch's journal rows (ids as a JSON array).
    const consume = db.prepare('DELETE FROM journal WHERE id IN (SELECT value FROM json_each(?))');
    this.#commit = db.transaction((item: OutboxItem, journalIds: readonly number[]) => {
      if (advance.run(item.seq, item.headerHash, item.seq - 1).changes !== 1) throw new Error(`batch ${item.seq} does not follow the sealed head ${this.head.seq}`);
      if (journalIds.length > 0) {
        const gone = journalIds.length - consume.run(JSON.stringify(journalIds)).changes;
        if (gone !== 0) throw new Error(`batch ${item.seq}: ${gone} of its ${journalIds.length} journal entries are no longer unsealed`);
      }
      insert.run(item.seq, item.count, item.headerHash, item.root, JSON.stringify(item.submission), Date.now());
    });
  }

  get head(): ChainHead {
    const r = this.#db.prepare('SELECT seq, header_hash FROM chain_head WHERE id = 1').get() as { seq: number; header_hash: string };
    return { seq: r.seq, headerHash: Uint8Array.from(Buffer.from(r.header_hash, 'hex')) };
  }

  /**
   * Advances the head, takes the readings out of the journal and queues the batch, atomically;
   * throws at once if it cannot, and resolves once the transaction is on disk.
   */
  commit(item: OutboxItem, journalIds: readonly number[] = []): Promise<void> {
    this.#commit(item, journalIds);
    return syncCommitted(this.#db);
  }

  /** The batch has its receipt: it leaves the outbox. */
  remove(seq: number): void {
    // A receipt arriving while the gateway shuts down is not recorded; the batch is resent after
    // the restart and the chain node answers with the same receipt (idempotent ingest).
    if (!this.#db.open) return;
    this.#db.prepare('DELETE FROM outbox WHERE seq = ?').run(seq);
  }

  /**
   * Batches still waiting for a receipt, in sequence order. Without envelopes (`withEnvelopes`
   * false), each item's envelope is empty: read it with envelope(seq) when it is sent, so a long
   * backlog after a restart is not all read into memory (gateway/outbox/outbox.ts).
   */
  pending(withEnvelopes = true): OutboxItem[] {
    const sql = withEnvelopes
      ? 'SELECT seq, count, header_hash, root, submission FROM outbox ORDER BY seq'
      : "SELECT seq, count, header_hash, root, json_set(submission, '$.envelope', '') AS submission FROM outbox ORDER BY seq";
    const rows = this.#db.prepare(sql).all() as Array<{ seq: number; count: number; header_hash: string; root: string; submission: string }>;
    return rows.map((r) => ({ seq: r.seq, count: r.count, headerHash: r.header_hash, root: r.root, submission: JSON.parse(r.submission) as OutboxItem['submission'] }));
  }

  /** The envelope (base64) of a batch still in the outbox. */
  envelope(seq: number): string | undefined {
    const r = this.#db.prepare("SELECT json_extract(submission, '$.envelope') AS envelope FROM outbox WHERE seq = ?").get(seq) as { envelope: string | null } | undefined;
    return r?.envelope ?? undefined;
  }
}
