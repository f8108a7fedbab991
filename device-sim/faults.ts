/**
 * Fault injection for simulated devices, seeded and counted, so a tester can see how the gateway
 * reacts to what real wards produce. Per device (a scenario group's `faults`), each with a
 * probability per reading (default 0.05) where that makes sense:
 *
 * MQTT devices
 *   drop          the reading is never sent (lost before the device's outbox);
 *   duplicate     the same message is published twice (the gateway must journal it once);
 *   reorder       the reading is held back and published after the next one;
 *   out-of-range  the value is outside the kind's possible range (the gateway must refuse it, keep it
 *                 as a dead letter, and still acknowledge it);
 *   clock-skew    the device clock runs `skewMs` ahead (default 60 s) from the start;
 *   clock-jump    with the given probability the clock jumps by `skewMs` and stays there;
 *   disconnect    every `everyS` seconds (default 10) the connection is cut without a DISCONNECT;
 *                 the device reconnects and resends what had no PUBACK.
 * Byte streams (serial)
 *   drop, duplicate   a whole frame/packet/line is lost or sent twice;
 *   corrupt           1–3 random bits flipped in it;
 *   truncate          it is cut short at a random byte;
 *   burst             32–256 bytes of noise are sent before it.
 */
import { SeededRandom } from './random';

export const MQTT_FAULTS = ['drop', 'duplicate', 'reorder', 'out-of-range', 'clock-skew', 'clock-jump', 'disconnect'] as const;
export const BYTE_FAULTS = ['drop', 'duplicate', 'corrupt', 'truncate', 'burst'] as const;
export type MqttFault = (typeof MQTT_FAULTS)[number];
export type ByteFault = (typeof BYTE_FAULTS)[number];

export interface FaultSpec<T extends string = string> {
  type: T;
  probability?: number;
  everyS?: number;
  skewMs?: number;
}

export interface MqttFaultDecision {
  drop: boolean;
  duplicate: boolean;
  reorder: boolean;
  outOfRange: boolean;
  /** Offset of the device clock now, ms. */
  clockOffsetMs: number;
  /** The faults applied to this reading (for the send log). */
  applied: MqttFault[];
}

export class FaultPlan {
  readonly counts: Record<string, number> = {};
  readonly #rng: SeededRandom;
  #jump = 0;

  constructor(readonly specs: readonly FaultSpec[], seed: number) {
    this.#rng = new SeededRandom(seed ^ 0xfa017);
  }

  #spec(type: string): FaultSpec | undefined {
    return this.specs.find((s) => s.type === type);
  }

  #hit(type: string): boolean {
    const s = this.#spec(type);
    if (!s) return false;
    const hit = this.#rng.next() < (s.probability ?? 0.05);
    if (hit) this.counts[type] = (this.counts[type] ?? 0) + 1;
    return hit;
  }

  /** Seconds between forced disconnects, if that fault is on. */
  get disconnectEveryS(): number | null {
    const s = this.#spec('disconnect');
    return s ? (s.everyS ?? 10) : null;
  }

  countDisconnect(): void {
    this.counts.disconnect = (this.counts.disconnect ?? 0) + 1;
  }

  mqtt(): MqttFaultDecision {
    const applied: MqttFault[] = [];
    const take = (f: MqttFault): boolean => {
      const h = this.#hit(f);
      if (h) applied.push(f);
      return h;
    };
    const drop = take('drop');
    const duplicate = !drop && take('duplicate');
    const reorder = !drop && take('reorder');
    const outOfRange = !drop && take('out-of-range');
    if (take('clock-jump')) this.#jump += this.#spec('clock-jump')?.skewMs ?? 60_000;
    const skew = this.#spec('clock-skew');
    if (skew) applied.push('clock-skew');
    return { drop, duplicate, reorder, outOfRange, clockOffsetMs: (skew ? (skew.skewMs ?? 60_000) : 0) + this.#jump, applied };
  }

  /** One frame/packet/line as it goes on the wire after the byte faults: zero, one or more chunks. */
  bytes(frame: Uint8Array): { chunks: Uint8Array[]; applied: ByteFault[] } {
    const applied: ByteFault[] = [];
    if (this.#hit('drop')) return { chunks: [], applied: ['drop'] };
    let f = Uint8Array.from(frame);
    const chunks: Uint8Array[] = [];
    if (this.#hit('burst')) {
      applied.push('burst');
      const n = 32 + Math.floor(this.#rng.next() * 225);
      chunks.push(Uint8Array.from({ length: n }, () => Math.floor(this.#rng.next() * 256)));
    }
    if (this.#hit('corrupt')) {
      applied.push('corrupt');
      const flips = 1 + Math.floor(this.#rng.next() * 3);
      for (let i = 0; i < flips; i++) {
        const bit = Math.floor(this.#rng.next() * f.length * 8);
        f[bit >> 3]! ^= 1 << (bit & 7);
      }
    }
    if (this.#hit('truncate')) {
      applied.push('truncate');
      f = f.subarray(0, Math.floor(this.#rng.next() * f.length));
    }
    chunks.push(f);
    if (this.#hit('duplicate')) {
      applied.push('duplicate');
      chunks.push(f);
    }
    return { chunks, applied };
  }
}
