/**
 * Gateway counters: what the status line, the IPC status messages and (later) a metrics endpoint show.
 * Plain numbers in one object, so a snapshot is a cheap structured copy.
 */
export interface GatewayMetrics {
  readingsIn: number;
  readingsRejected: number;
  batchesSealed: number;
  readingsSealed: number;
  batchesAnchored: number;
  readingsAnchored: number;
  submitFailures: number;
  outboxPending: number;
  lastTx: string | null;
  lastError: string | null;
  /** Serial ports currently open (the simulator waits for them before it starts sending). */
  serialPortsOpen: number;
}

export function newMetrics(): GatewayMetrics {
  return {
    readingsIn: 0,
    readingsRejected: 0,
    batchesSealed: 0,
    readingsSealed: 0,
    batchesAnchored: 0,
    readingsAnchored: 0,
    submitFailures: 0,
    outboxPending: 0,
    lastTx: null,
    lastError: null,
    serialPortsOpen: 0,
  };
}
