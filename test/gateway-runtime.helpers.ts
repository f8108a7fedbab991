// A gateway runtime for tests, assembled from the real parts (SQLite journal and outbox store in a
// temp directory, sealer, outbox, disk budget); the chain node is whatever `client` the test passes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DeviceCredentials } from '../gateway/ingest/device-credentials';
import { DeadLetterFile } from '../gateway/ingest/dead-letter';
import { openStateDb, type StateDb } from '../gateway/journal/state-db';
import { ReadingJournal } from '../gateway/journal/journal';
import { OutboxStore } from '../gateway/outbox/outbox-store';
import { Sealer } from '../gateway/sealing/sealer';
import { Outbox, type OutboxOptions } from '../gateway/outbox/outbox';
import { StorageBudget } from '../gateway/journal/storage-budget';
import { GatewayRuntime } from '../gateway/runtime';
import { generateOwnerKeyPair } from '../gateway/sealing/envelope';
import { blsKeygen } from '../protocol/bls';

export interface TestRuntime {
  rt: GatewayRuntime;
  db: StateDb;
  journal: ReadingJournal;
  store: OutboxStore;
  outbox: Outbox;
  logs: string[];
  close(): void;
}

export async function testRuntime(o: { devices: DeviceCredentials; client: OutboxOptions['client']; measureBytes?: () => number }): Promise<TestRuntime> {
  const dir = mkdtempSync(join(tmpdir(), 'mcps-rt-'));
  const db = openStateDb(join(dir, 'gateway.db'));
  const journal = new ReadingJournal(db);
  const store = new OutboxStore(db);
  const owner = await generateOwnerKeyPair();
  const outbox = new Outbox({ client: o.client });
  const sealer = new Sealer({ gatewayId: 'gw-1', blsSecretKey: blsKeygen(randomBytes(48)), ownerPublicKey: owner.publicKey, patientTagKey: new Uint8Array(randomBytes(32)), state: store, journal, onSealed: (i) => outbox.enqueue(i) });
  outbox.on('receipt', (item) => store.remove(item.seq));
  const logs: string[] = [];
  const log = (_l: string, m: string): void => void logs.push(m);
  const budget = new StorageBudget({ budgetBytes: 1 << 30, measure: o.measureBytes ?? (() => 0), log, intervalMs: 0 });
  const rt = new GatewayRuntime({ gatewayId: 'gw-1', broker: null, devices: o.devices, deadLetters: new DeadLetterFile(join(dir, 'dead.jsonl')), journal, budget, sealer, outbox, log });
  return {
    rt,
    db,
    journal,
    store,
    outbox,
    logs,
    close: () => {
      outbox.stop();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
