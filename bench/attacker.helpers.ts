/**
 * What an anonymous attacker on the network can make without any key (issue 12's audit), shared by
 * the adversarial tests (test/node-under-attack.test.ts) and the under-attack bench:
 *   - a fresh M1 for the node (any 32 bytes of non-low-order X will do; no key needed),
 *   - an M3 of its own handshake naming any id (raw bytes, even ones the wire refuses) with any
 *     48-byte "signature" (a valid G1 point forces a pairing if nothing cheap stands before it),
 *   - raw HTTP requests from a chosen source address with headers and bodies as it likes.
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { decodeM2, encodeM1, joinM3, M3_PLAIN_LENGTH } from '../protocol/handshake/messages';
import { MAX_ID_LEN } from '../protocol/handshake/wire';
import { aeadSeal, x25519, x25519PublicKey } from '../protocol/handshake/primitives';
import { recordHash, type RegistryRecord } from '../protocol/handshake/registry';
import { extract, m3Keys, transcriptH2 } from '../protocol/handshake/schedule';

export interface AttackerHandshake {
  readonly m1: Uint8Array;
  /** The M3 of this handshake for the node's M2, naming `id` (raw ASCII, not validated) with signature bytes `sig`. */
  m3For(m2: Uint8Array, id: string, epoch: number, sig: Uint8Array): Uint8Array;
}

export function attackerHandshake(node: RegistryRecord, now: number, random: (n: number) => Uint8Array): AttackerHandshake {
  const x = random(32);
  const m1 = encodeM1({ nodeId: node.id, nodeEpoch: node.epoch, time: Math.floor(now), nonce: random(16), ephemeral: x25519PublicKey(x) });
  return {
    m1,
    m3For(m2bytes, id, epoch, sig) {
      const m2 = decodeM2(m2bytes);
      const h2 = transcriptH2(m1, recordHash(node), m2.ephemeral, m2.nonce);
      const prk = extract(h2, x25519(x, m2.ephemeral, 'attacker'), x25519(x, node.x25519PublicKey!, 'attacker'));
      // len ‖ id ‖ zero padding to MAX_ID_LEN ‖ epoch ‖ σ, written by hand so any id bytes can go in.
      const idBytes = Buffer.from(id, 'latin1');
      const plain = new Uint8Array(M3_PLAIN_LENGTH);
      plain[0] = idBytes.length;
      plain.set(idBytes, 1);
      new DataView(plain.buffer).setUint32(1 + MAX_ID_LEN, epoch);
      plain.set(sig, 5 + MAX_ID_LEN);
      const { key, iv } = m3Keys(prk);
      return joinM3(aeadSeal(key, iv, plain, new Uint8Array([...h2, ...m2.mac])));
    },
  };
}

/** A valid compressed G1 point of the prime-order subgroup that is nobody's signature. */
export function validG1Point(random: (n: number) => Uint8Array): Uint8Array {
  let k = 0n;
  for (const b of random(31)) k = (k << 8n) | BigInt(b);
  return bls12_381.G1.Point.BASE.multiply(k + 1n).toBytes(true);
}

export interface RawReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * One HTTP request as an attacker sends it: from `localAddress`, with the headers given (a declared
 * Content-Length may differ from what is sent), the body sent in `chunks` with `gapMs` between
 * them, and `end: false` to leave the body unfinished. Rejects when no answer comes within
 * `timeoutMs`.
 */
export function rawRequest(
  url: string,
  o: { method?: string; path: string; headers?: Record<string, string | number>; chunks?: Array<Uint8Array | string>; gapMs?: number; end?: boolean; localAddress?: string; timeoutMs?: number; agent?: import('node:http').Agent },
): Promise<RawReply> {
  const u = new URL(url);
  return new Promise<RawReply>((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: o.method ?? 'POST', path: o.path, headers: o.headers ?? {}, ...(o.localAddress ? { localAddress: o.localAddress } : {}), ...(o.agent ? { agent: o.agent } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer to ${o.method ?? 'POST'} ${o.path} within ${o.timeoutMs ?? 5000} ms`));
    }, o.timeoutMs ?? 5000);
    req.on('error', (err) => {
      // The node may answer and close while the body is still being written (EPIPE): the answer
      // still arrives, so wait a moment for it before reporting the error.
      setTimeout(() => {
        clearTimeout(timer);
        reject(err);
      }, 300);
    });
    req.flushHeaders(); // the headers go out now, even when no body byte follows
    const chunks = o.chunks ?? [];
    let i = 0;
    const next = (): void => {
      if (req.destroyed) return;
      if (i < chunks.length) {
        req.write(chunks[i++]!);
        setTimeout(next, o.gapMs ?? 0);
      } else if (o.end !== false) req.end();
    };
    if (chunks.length === 0 && o.end !== false) req.end();
    else next();
  });
}
