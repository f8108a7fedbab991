// Shared by protocol tests: the machine-readable reason a call was refused with.
import { ProtocolError } from '../protocol/errors';

/** The ProtocolError reason `fn` throws, 'no error', or a note that something else was thrown. */
export function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof ProtocolError ? err.reason : `not a ProtocolError: ${String(err)}`;
  }
  return 'no error';
}
