/**
 * Gateway counters: what the status line, the IPC status messages and (later) a metrics endpoint show.
 * Plain numbers in one object, so a snapshot is a cheap structured copy.
 */
export interface GatewayMetrics {
  /** Readings journaled (accepted): each was on disk before it was acknowledged. */
  readingsIn: number;
  readingsRejected: number;
  /** Re-sent readings recognised by their dedupe key: acknowledged again, not journaled twice. */
  duplicatesDropped: number;
  /** Readings refused because the disk budget was full. */
  readingsRefusedFull: number;
  batchesSealed: number;
  readingsSealed: number;
  /** Readings sealed by the journal sweep (after a restart, or left by the flow). */
  readingsSwept: number;
  /** Readings left out of a batch because they were sealed already. */
  alreadySealed: number;
  batchesAnchored: number;
  readingsAnchored: number;
  submitFailures: number;
  outboxPending: number;
  journalUnsealed: number;
  journalCommits: number;
  journalMaxGroup: number;
  storageBytes: number;
  storageBudgetBytes: number;
  storageState: 'ok' | 'warn' | 'full';
  lastTx: string | null;
  lastError: string | null;
  /** Serial ports currently open (the simulator waits for them before it starts sending). */
  serialPortsOpen: number;
  /** This gateway's key in the on-chain registry, as last checked (a flow's gateway identity node checks it). */
  registration: 'unknown' | 'registered' | 'not-registered' | 'other-key' | 'revoked' | 'not-a-gateway';
}

export function newMetrics(): GatewayMetrics {
  return {
    readingsIn: 0,
    readingsRejected: 0,
    duplicatesDropped: 0,
    readingsRefusedFull: 0,
    batchesSealed: 0,
    readingsSealed: 0,
    readingsSwept: 0,
    alreadySealed: 0,
    batchesAnchored: 0,
    readingsAnchored: 0,
    submitFailures: 0,
    outboxPending: 0,
    journalUnsealed: 0,
    journalCommits: 0,
    journalMaxGroup: 0,
    storageBytes: 0,
    storageBudgetBytes: 0,
    storageState: 'ok',
    lastTx: null,
    lastError: null,
    serialPortsOpen: 0,
    registration: 'unknown',
  };
}
