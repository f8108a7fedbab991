/**
 * The one error type protocol code throws for bad input: `reason` is a stable, machine-readable
 * code (e.g. "bls.identity-point", "header.trailing-bytes") that tests and local logs use; the
 * message says what was wrong in words. Peers are never told more than that a message was refused.
 */
export class ProtocolError extends Error {
  constructor(readonly reason: string, message?: string) {
    super(message ? `${reason}: ${message}` : reason);
    this.name = 'ProtocolError';
  }
}
