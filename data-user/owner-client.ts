/**
 * A data user's client for the owner's key service (owner/key-service.ts): requests sealed to the
 * hospital's owner key from the registry, signed with the user's BLS key; answers opened with the
 * user's encryption key and bound to the request they answer.
 */
import { randomBytes } from 'node:crypto';
import type { Agent } from 'node:https';
import { caAgent, postBody } from '../common/https-post';
import { tlsHint } from './node-client';
import { hpkeSeal, HpkeRecipient } from '../common/hpke';
import { nobleSigner, SIG_DST, type BlsSigner } from '../protocol/bls';
import { mclSigner } from '../common/mcl-pairing';
import { decodeKeyAnswer, encodeKeyRequest, KEY_REQUEST_INFO, keyReleaseInfo, keyRequestMessage, type KeyAnswer, type KeyRefusal, type SliceKeyRequest } from '../protocol/sharing/key-messages';

export class KeyRefused extends Error {
  constructor(readonly refusal: KeyRefusal, readonly status: number, message: string) {
    super(message);
    this.name = 'KeyRefused';
  }
}

export interface OwnerClientOptions {
  readonly url: string;
  readonly hospital: string;
  readonly ownerPublicKey: Uint8Array;
  readonly userId: string;
  readonly blsSecretKey: Uint8Array;
  readonly encryptionSecretKey: Uint8Array;
  readonly timeoutMs?: number;
  /** A CA to trust for an https:// key service; otherwise the system's. */
  readonly ca?: Buffer;
}

export class OwnerClient {
  readonly #me: HpkeRecipient;

  readonly #agent: Agent | undefined;
  /** Request signatures with mcl-wasm (the same bytes as noble's, several times cheaper); noble if mcl cannot load. */
  #signer: Promise<BlsSigner> | null = null;

  constructor(readonly opts: OwnerClientOptions) {
    this.#me = new HpkeRecipient(opts.encryptionSecretKey);
    this.#agent = opts.ca ? caAgent(opts.ca) : undefined;
  }

  async #ask(req: { kind: 'tags' | 'keys'; grantId: number; patient: string; accessTx?: string; slices?: SliceKeyRequest[] }): Promise<Extract<KeyAnswer, { ok: true }>> {
    const inner = encodeKeyRequest({ v: 1, user: this.opts.userId, time: Date.now(), nonce: randomBytes(16).toString('hex'), ...req });
    const signed = { request: Buffer.from(inner).toString('base64'), signature: Buffer.from((await (this.#signer ??= mclSigner().catch(() => nobleSigner))).sign(this.opts.blsSecretKey, keyRequestMessage(inner), SIG_DST)).toString('hex') };
    const body = await hpkeSeal(this.opts.ownerPublicKey, KEY_REQUEST_INFO, Buffer.from(JSON.stringify(signed)));
    let res: { status: number; body: Buffer };
    try {
      res = await postBody(new URL('/v1/keys', this.opts.url), Buffer.from(body), 'application/octet-stream', this.#agent, this.opts.timeoutMs ?? 120_000);
    } catch (err) {
      throw new Error(`key service of ${this.opts.hospital} at ${this.opts.url} unreachable: ${(err as Error).message}${tlsHint(err)}`);
    }
    const bytes = res.body;
    if (res.status !== 200) {
      let x: { refusal?: KeyRefusal; error?: string } = {};
      try {
        x = JSON.parse(bytes.toString('utf8')) as typeof x;
      } catch {
        // not JSON
      }
      throw new KeyRefused(x.refusal ?? 'unavailable', res.status, `key service of ${this.opts.hospital} refused: ${x.error ?? `HTTP ${res.status}`}`);
    }
    let a: KeyAnswer;
    try {
      a = decodeKeyAnswer(await this.#me.open(keyReleaseInfo(inner), bytes));
    } catch (err) {
      throw new Error(`the key service's answer does not open with ${this.opts.userId}'s encryption key for this request: ${(err as Error).message}`);
    }
    if (!a.ok) throw new KeyRefused(a.refusal, 403, `key service of ${this.opts.hospital} refused: ${a.error}`);
    return a;
  }

  /** The patient's day tags over the grant's days. */
  async tags(grantId: number, patient: string): Promise<{ firstDay: number; tags: string[] }> {
    const a = await this.#ask({ kind: 'tags', grantId, patient });
    if (a.firstDay === undefined || !a.tags) throw new Error('key service answered a tags request without tags');
    return { firstDay: a.firstDay, tags: [...a.tags] };
  }

  /** One slice key per slice named, in order. */
  async keys(grantId: number, patient: string, accessTx: string, slices: SliceKeyRequest[]): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    // Large fetches go in several requests (each one is checked in full by the service).
    for (let i = 0; i < slices.length; i += 20_000) {
      const part = slices.slice(i, i + 20_000);
      const a = await this.#ask({ kind: 'keys', grantId, patient, accessTx, slices: part });
      if (!a.keys || a.keys.length !== part.length) throw new Error(`key service answered ${a.keys?.length ?? 0} keys for ${part.length} slices`);
      out.push(...a.keys.map((k) => Uint8Array.from(Buffer.from(k, 'hex'))));
    }
    return out;
  }
}
