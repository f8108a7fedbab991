/**
 * The data owner's key and the wrapping of a gateway's epoch keys to it (HPKE, RFC 9180, through
 * common/hpke.ts).
 *
 * Batches are no longer one ciphertext for the owner: each patient-day slice has its own key,
 * derived from the gateway's epoch key (protocol/sharing/slice-keys.ts). The epoch key (32 random
 * bytes, a new one every UTC hour and at every start) is wrapped to the owner's X25519 key once per
 * epoch, bound to the gateway and the epoch id through the HPKE `info`, and travels in every batch
 * directory of that epoch. So the chain node stores what it cannot read, the gateway cannot read
 * what it sealed in earlier epochs (their keys are dropped), and only the owner — directly, or
 * through its key service for exactly the slices a grant covers — can open a slice.
 */
import { epochKeyInfo } from '../../protocol/sharing/slice-keys';
import { hpkeKeyPair, hpkeSeal, HpkeRecipient, type X25519KeyPair } from '../../common/hpke';
import { WRAPPED_EPOCH_KEY_LENGTH } from '../../protocol/batch';

export type OwnerKeyPair = X25519KeyPair;

export function generateOwnerKeyPair(): Promise<OwnerKeyPair> {
  return hpkeKeyPair();
}

export async function wrapEpochKey(ownerPublicKey: Uint8Array, gatewayId: string, epochId: number, key: Uint8Array): Promise<Uint8Array> {
  if (key.length !== 32) throw new RangeError(`epoch key of ${key.length} bytes, expected 32`);
  const w = await hpkeSeal(ownerPublicKey, epochKeyInfo(gatewayId, epochId), key);
  if (w.length !== WRAPPED_EPOCH_KEY_LENGTH) throw new Error(`wrapped epoch key of ${w.length} bytes`);
  return w;
}

/**
 * Unwraps epoch keys with the owner's private key, remembering each (a batch directory names its
 * epoch; a day has about 24 of them per gateway).
 */
export class EpochKeyOpener {
  readonly #recipient: HpkeRecipient;
  readonly #cache = new Map<string, Promise<Uint8Array>>();

  constructor(ownerPrivateKey: Uint8Array) {
    this.#recipient = new HpkeRecipient(ownerPrivateKey);
  }

  /** Throws if the wrapping was altered or belongs to another gateway or epoch. */
  open(gatewayId: string, epochId: number, wrapped: Uint8Array): Promise<Uint8Array> {
    const k = `${gatewayId}\u0000${epochId}\u0000${Buffer.from(wrapped).toString('hex')}`;
    let p = this.#cache.get(k);
    if (!p) {
      p = this.#recipient.open(epochKeyInfo(gatewayId, epochId), wrapped);
      p.catch(() => this.#cache.delete(k));
      if (this.#cache.size >= 4096) this.#cache.delete(this.#cache.keys().next().value as string);
      this.#cache.set(k, p);
    }
    return p;
  }
}
