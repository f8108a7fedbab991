/**
 * Node "mcps-fhir-out": posts FHIR transaction Bundles (from "to fhir") to a FHIR server's base URL.
 * Each Bundle is written to the node's own durable queue before the message completes, and leaves
 * the queue only when the server accepted it (output 1: the transaction-response) or refused it for
 * good (output 2: the server's OperationOutcome; the Bundle is kept in the queue's refused/ folder).
 * While the server is down or answers 5xx/429/401, the node retries with exponential backoff and keeps
 * queueing: an outage loses nothing, and a restart of the gateway resumes the queue in order. The
 * server's login (basic or bearer) is kept in Node-RED's credentials, never in the flow file.
 */
import { join } from 'node:path';
import { BundleQueue } from '../gateway/fhir-export/bundle-queue';
import { outcomeSummary, type FhirAuth } from '../gateway/fhir-export/fhir-client';
import { FhirSender, type SenderState } from '../gateway/fhir-export/fhir-sender';
import type { DoneFn, NodeAPI, NodeDef, NodeInstance, NodeMessage, NodeStatus, SendFn } from './node-red-api';
import { throttledStatus } from './status-throttle';

interface FhirOutDef extends NodeDef {
  url?: string;
  authType?: string;
  queueDir?: string;
  maxQueue?: number | string;
  timeoutS?: number | string;
  initialBackoffMs?: number | string;
  maxBackoffS?: number | string;
}

const num = (v: unknown, fallback: number): number => {
  const n = Number(v);
  return v === '' || v === undefined || !Number.isFinite(n) || n <= 0 ? fallback : n;
};

export = function register(RED: NodeAPI): void {
  function FhirOutNode(this: NodeInstance, def: FhirOutDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = throttledStatus(node);
    const fail = (key: string, subs?: Record<string, string>): void => {
      const text = RED._(key, subs);
      node.status({ fill: 'red', shape: 'ring', text });
      node.on('input', (_m: NodeMessage, _s: SendFn, done: DoneFn) => done(new Error(text)));
    };
    let base: URL;
    try {
      base = new URL((def.url ?? '').trim());
      if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error('not http(s)');
    } catch {
      return fail('mcps-fhir-out.errors.url', { url: String(def.url ?? '') });
    }
    const c = node.credentials ?? {};
    let auth: FhirAuth = { type: 'none' };
    if (def.authType === 'basic') auth = { type: 'basic', username: c.username ?? '', password: c.password ?? '' };
    else if (def.authType === 'bearer') auth = { type: 'bearer', token: c.token ?? '' };
    const userDir = typeof RED.settings.userDir === 'string' ? RED.settings.userDir : process.cwd();
    const dir = def.queueDir?.trim() || join(userDir, 'mcps-fhir-queue', node.id);
    let queue: BundleQueue;
    try {
      queue = new BundleQueue(dir, num(def.maxQueue, 10_000));
    } catch (err) {
      return fail('mcps-fhir-out.errors.queue', { dir, reason: (err as Error).message });
    }
    const show = (s: SenderState): NodeStatus => {
      const n = { queued: s.queued, sent: s.sent, refused: s.refused };
      if (s.state === 'waiting') return { fill: 'red', shape: 'ring', text: RED._('mcps-fhir-out.status.waiting', { ...n, reason: s.reason.slice(0, 60), retry: Math.ceil(s.retryInMs / 1000) }) };
      if (lastRefusal) return { fill: 'yellow', shape: 'dot', text: RED._('mcps-fhir-out.status.refused', { ...n, outcome: lastRefusal }) };
      return { fill: s.state === 'sending' ? 'blue' : 'green', shape: 'dot', text: RED._('mcps-fhir-out.status.counts', n) };
    };
    /** The last refusal's OperationOutcome, shown until the server accepts a Bundle again. */
    let lastRefusal = '';
    let lastState: SenderState = { state: 'idle', queued: queue.size, sent: 0, refused: 0 };
    const sender = new FhirSender(
      queue,
      { baseUrl: base.toString().replace(/\/$/, ''), auth, timeoutMs: num(def.timeoutS, 30) * 1000, initialBackoffMs: num(def.initialBackoffMs, 1000), maxBackoffMs: num(def.maxBackoffS, 60) * 1000 },
      {
        accepted: (i) => {
          lastRefusal = '';
          node.send([{ payload: i.response, statusCode: i.status, bundle: i.bundle }, null]);
        },
        refused: (i) => {
          lastRefusal = `HTTP ${i.status}: ${outcomeSummary(i.outcome)}`;
          lastState = { ...lastState, refused: lastState.refused + 1, queued: queue.size };
          node.status(show(lastState));
          node.warn(RED._('mcps-fhir-out.errors.refused', { status: String(i.status), outcome: lastRefusal, file: i.keptAt }));
          node.send([null, { payload: i.outcome, statusCode: i.status, bundle: i.bundle, keptAt: i.keptAt }]);
        },
        state: (s) => {
          lastState = s;
          status.set(() => show(s));
        },
      },
    );
    sender.start();

    node.on('input', (msg: NodeMessage, _send: SendFn, done: DoneFn) => {
      const b = msg.payload as { resourceType?: unknown; type?: unknown } | null;
      if (!b || typeof b !== 'object' || b.resourceType !== 'Bundle' || (b.type !== 'transaction' && b.type !== 'batch')) {
        return done(new Error(RED._('mcps-fhir-out.errors.not-transaction')));
      }
      try {
        sender.enqueue(JSON.stringify(b));
      } catch (err) {
        return done(new Error(RED._('mcps-fhir-out.errors.enqueue', { reason: (err as Error).message })));
      }
      done();
    });
    node.on('close', (_removed: boolean, done: () => void) => {
      status.stop();
      sender.stop().then(() => done(), () => done());
    });
  }
  RED.nodes.registerType('mcps-fhir-out', FhirOutNode, {
    credentials: { username: { type: 'text' }, password: { type: 'password' }, token: { type: 'password' } },
  });
};
