/**
 * The gateway ↔ chain-node handshake (docs/protocol.md): three messages, then a record layer.
 *
 * @example
 *   const g = new InitiatorHandshake({ id: 'gw-ward1', blsSecretKey, nodeId: 'node-1', registry, now, random });
 *   const n = new NodeResponder({ nodeId: 'node-1', x25519SecretKey, registry, now, random });
 *   const { handshakeId, m2 } = n.onM1(g.start());
 *   const { m3, session: gs } = g.onM2(m2);
 *   const { session: ns, peer } = n.onM3(handshakeId, m3);
 *   ns.open(gs.seal(bytes));
 */
export { InitiatorHandshake, type InitiatorOptions } from './initiator';
export { NodeResponder, uniformWireError, type Authenticated, type OpenedM3, type ResponderOptions } from './responder';
export { Session, type SessionOptions, type SessionRole } from './session';
export { recordHash, type PartyRole, type Registry, type RegistryRecord } from './registry';
export { HS_SIG_DST } from './schedule';
export { x25519PublicKey } from './primitives';
export { noblePairing, signatureVerifier, verifySignaturesBatch, type SignatureVerifier, type PairingBackend, type SignatureCheck, type SignatureVerdict } from './batch-verify';
