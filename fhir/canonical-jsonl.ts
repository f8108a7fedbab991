/**
 * Canonical readings as JSON Lines (one canonical reading object per line, blank lines ignored) read
 * for conversion: every line is checked with the protocol's own reading check; a bad line is refused
 * with its line number and reason and the others still convert.
 */
import { checkReading } from '../protocol/canonical';
import type { Reading } from '../protocol/reading';

export interface JsonlRefusal {
  readonly line: number;
  readonly reason: string;
}

/** `accept` may throw to refuse a well-formed reading (e.g. one FHIR cannot express). */
export function parseCanonicalJsonl(text: string, name: string, accept: (r: Reading) => void = () => undefined): { readings: Reading[]; refused: JsonlRefusal[] } {
  const readings: Reading[] = [];
  const refused: JsonlRefusal[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    try {
      const r = checkReading(JSON.parse(line), "reading");
      accept(r);
      readings.push(r);
    } catch (err) {
      refused.push({ line: i + 1, reason: `${name}:${i + 1}: ${err instanceof SyntaxError ? `not JSON (${err.message})` : (err as Error).message}` });
    }
  });
  return { readings, refused };
}
