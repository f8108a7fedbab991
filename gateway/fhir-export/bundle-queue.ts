/**
 * A durable first-in first-out queue of FHIR Bundles waiting for a FHIR server: one file per Bundle
 * (written with temp file, fsync, rename, fsync of the directory), named by a sequence number so the
 * order survives restarts. A Bundle is acknowledged to the flow only once its file is on disk, and its
 * file is removed only when the server accepted it, or moved to refused/ (kept, with the server's
 * answer beside it) when the server refused it for good. Nothing accepted is lost by an outage or a
 * restart of the gateway.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../common/atomic-file';

const NAME = /^(\d{16})\.json$/;

export interface QueuedBundle {
  readonly name: string;
  readonly json: string;
}

export class BundleQueue {
  private readonly names: string[];
  private next: number;
  private bytesQueued = 0;

  constructor(readonly dir: string, readonly maxBundles = 10_000) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // A temp file left by a crash mid-write was never acknowledged: drop it.
    for (const f of readdirSync(dir)) if (f.endsWith('.tmp')) rmSync(join(dir, f), { force: true });
    this.names = readdirSync(dir).filter((f) => NAME.test(f)).sort();
    for (const n of this.names) this.bytesQueued += statSync(join(dir, n)).size;
    const last = this.names[this.names.length - 1];
    this.next = last ? Number(NAME.exec(last)![1]) + 1 : 1;
  }

  get size(): number {
    return this.names.length;
  }

  get bytes(): number {
    return this.bytesQueued;
  }

  /** Appends a Bundle durably; throws when the queue is full (the caller refuses the message). */
  push(json: string): string {
    if (this.names.length >= this.maxBundles) throw new Error(`the FHIR queue holds ${this.names.length} Bundles (its limit): the server has not taken any for a while`);
    const name = `${String(this.next++).padStart(16, '0')}.json`;
    writeFileAtomic(join(this.dir, name), json);
    this.names.push(name);
    this.bytesQueued += Buffer.byteLength(json);
    return name;
  }

  /** The oldest Bundle, or null when the queue is empty. */
  peek(): QueuedBundle | null {
    const name = this.names[0];
    if (!name) return null;
    return { name, json: readFileSync(join(this.dir, name), 'utf8') };
  }

  /** The server took it. */
  remove(name: string): void {
    this.drop(name);
    rmSync(join(this.dir, name), { force: true });
  }

  /** The server refused it for good: keep it aside in refused/ with the server's answer beside it. */
  setAside(name: string, answer: string): string {
    const aside = join(this.dir, 'refused');
    mkdirSync(aside, { recursive: true, mode: 0o700 });
    writeFileAtomic(join(aside, name.replace(/\.json$/, '.response.json')), answer);
    renameSync(join(this.dir, name), join(aside, name));
    this.drop(name);
    return join(aside, name);
  }

  private drop(name: string): void {
    const i = this.names.indexOf(name);
    if (i < 0) return;
    this.names.splice(i, 1);
    try {
      this.bytesQueued -= statSync(join(this.dir, name)).size;
    } catch {
      /* already gone */
    }
  }
}
