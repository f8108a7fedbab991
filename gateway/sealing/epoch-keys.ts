/**
 * The gateway's epoch keys: the secret every slice key of a batch derives from
 * (protocol/sharing/slice-keys.ts). A new random key at the first seal after start and at every
 * change of UTC hour; it is wrapped to the data owner once (HPKE) and the previous key is dropped,
 * so a gateway captured today cannot decrypt the slices it sealed in earlier hours. Kept only in
 * memory (the sealer's, which hands the current one to the seal worker with each batch): a restart
 * simply starts a new epoch.
 */
import type { EpochKey } from '../../protocol/batch';
import { wrapEpochKey } from './envelope';

export interface EpochKeyRingOptions {
  gatewayId: string;
  ownerPublicKey: Uint8Array;
  now: () => number;
  random: (n: number) => Uint8Array;
  /** Epoch length (default one hour); epochs change on multiples of it (UTC). */
  epochMs?: number;
}

export class EpochKeyRing {
  #current: Promise<EpochKey> | null = null;
  #bucket = -1;
  #lastId = 0;
  readonly rotations = { count: 0 };

  constructor(readonly opts: EpochKeyRingOptions) {}

  current(): Promise<EpochKey> {
    const now = this.opts.now();
    const bucket = Math.floor(now / (this.opts.epochMs ?? 3_600_000));
    if (!this.#current || bucket !== this.#bucket) {
      const old = this.#current;
      // Epoch ids are the creation time, strictly increasing even if the clock repeats a millisecond.
      const id = Math.max(now, this.#lastId + 1);
      this.#lastId = id;
      this.#bucket = bucket;
      const key = this.opts.random(32);
      this.#current = wrapEpochKey(this.opts.ownerPublicKey, this.opts.gatewayId, id, key).then((wrapped) => ({ id, key, wrapped }));
      this.#current.catch(() => {
        this.#current = null;
      });
      this.rotations.count++;
      if (old) void old.then((k) => k.key.fill(0), () => undefined);
    }
    return this.#current;
  }
}
