/**
 * Drains a BundleQueue into a FHIR server, oldest first, one Bundle at a time: accepted → removed;
 * refused for good → set aside (and reported with the server's OperationOutcome); anything else →
 * retried after an exponential backoff (doubling from `initialBackoffMs` up to `maxBackoffMs`, with
 * jitter, or the server's Retry-After), while new Bundles keep queueing on disk.
 */
import type { OperationOutcome } from 'fhir/r4';
import { BundleQueue } from './bundle-queue';
import { postTransaction, type FhirAuth, type PostResult } from './fhir-client';

export interface FhirSenderOptions {
  readonly baseUrl: string;
  readonly auth: FhirAuth;
  readonly timeoutMs?: number;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export type SenderState =
  | { state: 'idle'; queued: number; sent: number; refused: number }
  | { state: 'sending'; queued: number; sent: number; refused: number }
  | { state: 'waiting'; queued: number; sent: number; refused: number; reason: string; retryInMs: number; attempts: number };

export interface SenderEvents {
  accepted(info: { name: string; status: number; response: unknown; bundle: unknown }): void;
  refused(info: { name: string; status: number; outcome: OperationOutcome; bundle: unknown; keptAt: string }): void;
  state(s: SenderState): void;
}

export class FhirSender {
  private sent = 0;
  private refusedCount = 0;
  private attempts = 0;
  private running = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private readonly timeoutMs: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;

  constructor(readonly queue: BundleQueue, private readonly o: FhirSenderOptions, private readonly events: SenderEvents, private readonly post: typeof postTransaction = postTransaction) {
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.initialBackoffMs = o.initialBackoffMs ?? 1_000;
    this.maxBackoffMs = o.maxBackoffMs ?? 60_000;
  }

  /** Queues a Bundle durably (throws if it cannot be written) and wakes the sender. */
  enqueue(json: string): void {
    this.queue.push(json);
    this.kick();
  }

  /** Starts draining (also what was queued before a restart). */
  start(): void {
    this.kick();
  }

  /** Stops after the request in flight (its outcome is still recorded). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.inFlight;
  }

  private counts() {
    return { queued: this.queue.size, sent: this.sent, refused: this.refusedCount };
  }

  private kick(): void {
    if (this.stopped || this.running || this.timer) {
      if (!this.running && !this.timer) this.events.state({ state: 'idle', ...this.counts() });
      return;
    }
    this.running = true;
    this.inFlight = this.drain().finally(() => {
      this.running = false;
    });
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const head = this.queue.peek();
      if (!head) {
        this.events.state({ state: 'idle', ...this.counts() });
        return;
      }
      this.events.state({ state: 'sending', ...this.counts() });
      let r: PostResult;
      try {
        r = await this.post(this.o.baseUrl, head.json, this.o.auth, this.timeoutMs);
      } catch (err) {
        r = { kind: 'retry', status: null, reason: (err as Error).message, retryAfterMs: null };
      }
      const bundle = (): unknown => JSON.parse(head.json);
      if (r.kind === 'accepted') {
        this.queue.remove(head.name);
        this.sent++;
        this.attempts = 0;
        this.events.accepted({ name: head.name, status: r.status, response: r.body, bundle: bundle() });
      } else if (r.kind === 'refused') {
        const keptAt = this.queue.setAside(head.name, r.body || JSON.stringify(r.outcome));
        this.refusedCount++;
        this.attempts = 0;
        this.events.refused({ name: head.name, status: r.status, outcome: r.outcome, bundle: bundle(), keptAt });
      } else {
        this.attempts++;
        const backoff = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** Math.min(this.attempts - 1, 30));
        const wait = r.retryAfterMs !== null ? Math.min(this.maxBackoffMs, r.retryAfterMs) : backoff * (0.75 + Math.random() * 0.5);
        this.events.state({ state: 'waiting', ...this.counts(), reason: r.reason, retryInMs: Math.round(wait), attempts: this.attempts });
        if (this.stopped) return;
        this.timer = setTimeout(() => {
          this.timer = null;
          this.kick();
        }, wait);
        return;
      }
    }
  }
}
