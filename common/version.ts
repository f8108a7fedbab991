/** This package's version (package.json), for the metrics' info series and `mcps doctor`. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function packageVersion(): string {
  try {
    // dist/common/version.js → the package root
    return (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
