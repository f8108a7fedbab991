/**
 * MLLP, the Minimal Lower Layer Protocol HL7 v2 travels in over TCP: each message framed as
 * 0x0B <message> 0x1C 0x0D. The decoder takes a TCP byte stream cut anywhere and gives whole frames,
 * or refusals for bytes outside a frame and for frames over the size limit (memory stays bounded).
 */
import { MAX_HL7_MESSAGE } from './hl7-message';

export const VT = 0x0b;
export const FS = 0x1c;
export const CR = 0x0d;

export type MllpEvent = { type: 'frame'; data: Buffer } | { type: 'error'; reason: string };

export function mllpFrame(message: string | Buffer): Buffer {
  const body = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  return Buffer.concat([Buffer.of(VT), body, Buffer.of(FS, CR)]);
}

export class MllpDecoder {
  #parts: Buffer[] = [];
  #len = 0;
  #inFrame = false;
  /** A trailing 0x1C waiting for its 0x0D in the next chunk. */
  #pendingFs = false;
  #outside = 0;
  #oversize = false;

  constructor(readonly maxBytes = MAX_HL7_MESSAGE) {}

  push(chunk: Buffer): MllpEvent[] {
    const out: MllpEvent[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (!this.#inFrame) {
        const start = chunk.indexOf(VT, i);
        const skipped = (start < 0 ? chunk.length : start) - i;
        // Line ends between frames are common and harmless; anything else is counted.
        for (let k = i; k < i + skipped; k++) if (chunk[k] !== CR && chunk[k] !== 0x0a) this.#outside++;
        if (start < 0) break;
        if (this.#outside > 0) {
          out.push({ type: 'error', reason: `${this.#outside} bytes outside an MLLP frame (expected 0x0B first) skipped` });
          this.#outside = 0;
        }
        this.#inFrame = true;
        this.#parts = [];
        this.#len = 0;
        this.#oversize = false;
        i = start + 1;
        continue;
      }
      if (this.#pendingFs) {
        this.#pendingFs = false;
        if (chunk[i] === CR) {
          this.#end(out);
          i++;
          continue;
        }
        this.#add(Buffer.of(FS)); // a 0x1C inside the message after all
      }
      const fs = chunk.indexOf(FS, i);
      const vt = chunk.indexOf(VT, i);
      if (vt >= 0 && (fs < 0 || vt < fs)) {
        // A new frame began before this one ended: the sender gave up on it (or bytes were lost).
        out.push({ type: 'error', reason: `an MLLP frame cut short after ${this.#len + vt - i} bytes (a new frame began); dropped` });
        this.#parts = [];
        this.#len = 0;
        this.#oversize = false;
        i = vt + 1;
        continue;
      }
      if (fs < 0) {
        this.#add(chunk.subarray(i));
        break;
      }
      this.#add(chunk.subarray(i, fs));
      if (fs + 1 >= chunk.length) {
        this.#pendingFs = true;
        break;
      }
      if (chunk[fs + 1] === CR) {
        this.#end(out);
        i = fs + 2;
      } else {
        this.#add(Buffer.of(FS));
        i = fs + 1;
      }
    }
    return out;
  }

  #add(b: Buffer): void {
    if (this.#oversize) return;
    this.#len += b.length;
    if (this.#len > this.maxBytes) {
      this.#oversize = true;
      this.#parts = [];
      return;
    }
    this.#parts.push(Buffer.from(b));
  }

  #end(out: MllpEvent[]): void {
    this.#inFrame = false;
    if (this.#oversize) out.push({ type: 'error', reason: `an MLLP frame of ${this.#len} bytes, over the limit of ${this.maxBytes}; dropped` });
    else out.push({ type: 'frame', data: Buffer.concat(this.#parts) });
    this.#parts = [];
  }
}
