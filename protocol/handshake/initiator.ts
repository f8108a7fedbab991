/**
 * The initiator's side (a gateway, or a data user): SIGMA-I order, the node authenticated by its
 * static X25519 key from the registry.
 *
 *   start()   → M1 (no initiator identity: it travels encrypted in M3)
 *   onM2(m2)  → checks the node's MAC (only the holder of k_N can make it), signs the transcript,
 *               returns M3 and the session; the ephemeral secret is erased.
 *
 * One instance runs one handshake; any failure ends it (a new instance starts over).
 */
import { nobleSigner, type BlsSigner } from '../bls';
import { ProtocolError } from '../errors';
import { decodeM2, encodeM1, encodeM3Plain, joinM3 } from './messages';
import { aeadSeal, macEqual, x25519Peer, X25519Secret } from './primitives';
import { recordHash, type Registry, type RegistryRecord } from './registry';
import { extract, HS_SIG_DST, m3Keys, nodeMac, trafficKeys, transcriptH2, transcriptH3 } from './schedule';
import { Session } from './session';

export interface InitiatorOptions {
  /** This party's registry id and BLS secret key. */
  id: string;
  blsSecretKey: Uint8Array;
  nodeId: string;
  registry: Registry;
  now: () => number;
  random: (n: number) => Uint8Array;
  sessionLifetimeMs?: number;
  rekeyEvery?: number;
  /** Who computes σ_I (default: noble). A gateway passes mcl-wasm's (common/mcl-pairing.ts): same bytes, ~7x cheaper. */
  signer?: BlsSigner;
}

type State =
  | { s: 'new' }
  | { s: 'sent-m1'; x: X25519Secret; X: Uint8Array; m1: Uint8Array; node: RegistryRecord; me: RegistryRecord }
  | { s: 'done' }
  | { s: 'failed' };

export class InitiatorHandshake {
  #state: State = { s: 'new' };

  constructor(readonly opts: InitiatorOptions) {}

  start(): Uint8Array {
    if (this.#state.s !== 'new') throw new ProtocolError('state.unexpected', 'start() called twice');
    try {
      const node = this.opts.registry.lookup(this.opts.nodeId);
      if (!node || node.role !== 'node' || !node.x25519PublicKey) throw new ProtocolError('peer.unknown-node', `${this.opts.nodeId} is not a registered chain node`);
      if (node.status !== 'active') throw new ProtocolError('peer.revoked-node', `${this.opts.nodeId} is revoked`);
      const me = this.opts.registry.lookup(this.opts.id);
      if (!me || (me.role !== 'gateway' && me.role !== 'user')) throw new ProtocolError('self.unregistered', `${this.opts.id} is not a registered gateway or user`);
      if (me.status !== 'active') throw new ProtocolError('self.revoked', `${this.opts.id} is revoked in the registry`);
      const xBytes = this.opts.random(32);
      const x = new X25519Secret(xBytes);
      xBytes.fill(0);
      const X = x.publicKey();
      const m1 = encodeM1({ nodeId: node.id, nodeEpoch: node.epoch, time: Math.floor(this.opts.now()), nonce: this.opts.random(16), ephemeral: X });
      this.#state = { s: 'sent-m1', x, X, m1, node, me };
      return m1;
    } catch (err) {
      this.#state = { s: 'failed' };
      throw err;
    }
  }

  onM2(m2bytes: Uint8Array): { m3: Uint8Array; session: Session } {
    const st = this.#state;
    if (st.s !== 'sent-m1') throw new ProtocolError('state.unexpected', `M2 in state ${st.s}`);
    // From here the state no longer holds x, whatever happens (forward secrecy: its raw bytes were
    // wiped in start(); the KeyObject is dropped with the state).
    this.#state = { s: 'failed' };
    const m2 = decodeM2(m2bytes);
    if (macEqual(m2.ephemeral, st.X)) throw new ProtocolError('m2.same-ephemeral', 'Y equals X (reflection)');
    const dhE = st.x.dh(x25519Peer(m2.ephemeral, 'm2.bad-ephemeral'), 'm2.bad-ephemeral');
    const dhS = st.x.dh(x25519Peer(st.node.x25519PublicKey!, 'peer.bad-node-key'), 'peer.bad-node-key');
    const h2 = transcriptH2(st.m1, recordHash(st.node), m2.ephemeral, m2.nonce);
    const prk = extract(h2, dhE, dhS);
    if (!macEqual(nodeMac(prk, h2), m2.mac)) throw new ProtocolError('m2.bad-mac', 'the node did not prove its static key');
    const h3 = transcriptH3(h2, m2.mac, st.me.id, recordHash(st.me));
    const sig = (this.opts.signer ?? nobleSigner).sign(this.opts.blsSecretKey, h3, HS_SIG_DST);
    const { key, iv } = m3Keys(prk);
    const ad = new Uint8Array([...h2, ...m2.mac]);
    const m3 = joinM3(aeadSeal(key, iv, encodeM3Plain({ peerId: st.me.id, peerEpoch: st.me.epoch, signature: sig }), ad));
    const session = new Session(trafficKeys(prk, h3, sig), 'initiator', {
      now: this.opts.now,
      expiresAt: this.opts.now() + (this.opts.sessionLifetimeMs ?? 3_600_000),
      rekeyEvery: this.opts.rekeyEvery,
    });
    this.#state = { s: 'done' };
    return { m3, session };
  }
}
