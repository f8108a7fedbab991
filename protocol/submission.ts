/**
 * What travels between a gateway and a chain node for one batch, and the node's signed receipt.
 *
 * A submission carries the encoded batch header, the gateway's BLS signature over the header hash
 * (permanent proof of origin, stored beside the ciphertext), and the envelope (the slice directory
 * and one ciphertext per patient-day slice, docs/protocol.md). The node answers with a receipt naming the anchor transaction, signed with its own BLS
 * key so the gateway can check that a registered node, not a man in the middle, anchored the batch.
 */
import { canonicalJson } from './canonical';
import { verifyFold, type FoldProof } from './fold';

export interface BatchSubmission {
  /** 2: the batch layout with patient slices (docs/protocol.md); version 1 batches are refused. */
  readonly v: 2;
  readonly gatewayId: string;
  /** hex of encodeHeader(header) */
  readonly header: string;
  /** hex of the gateway's BLS signature (G1, 48 bytes) over headerHash(header) */
  readonly headerSignature: string;
  /** base64 of the envelope: the slice directory (its hash is the header's directoryHash) and the slice ciphertexts */
  readonly envelope: string;
}

export interface BatchReceipt {
  readonly v: 1;
  readonly nodeId: string;
  readonly gatewayId: string;
  readonly seq: number;
  /** hex */
  readonly headerHash: string;
  /** hex */
  readonly root: string;
  readonly count: number;
  readonly txHash: string;
  readonly blockNumber: number;
  readonly status: 'anchored';
  /**
   * The batch's place in the anchor transaction's fold (protocol/fold.ts): the path from headerHash
   * to the fold root the Anchor contract logged. Absent only in receipts of nodes before folding.
   */
  readonly fold?: FoldProof;
}

export interface SignedReceipt {
  readonly receipt: BatchReceipt;
  /** hex of the node's BLS signature over receiptMessage(receipt) */
  readonly signature: string;
}

const RECEIPT_LABEL = 'mcps/receipt/v1\n';

/** The exact bytes a node signs for a receipt. */
export function receiptMessage(r: BatchReceipt): Uint8Array {
  return new TextEncoder().encode(RECEIPT_LABEL + canonicalJson(r as unknown as Record<string, unknown>));
}

function isHex(s: unknown, bytes?: number): s is string {
  return typeof s === 'string' && /^([0-9a-f]{2})*$/.test(s) && (bytes === undefined || s.length === bytes * 2);
}

/** Strictly checks the shape of a parsed submission; throws a RangeError naming the bad field. */
export function parseSubmission(x: unknown): BatchSubmission {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new RangeError('submission: expected a JSON object');
  const o = x as Record<string, unknown>;
  const allowed = new Set(['v', 'gatewayId', 'header', 'headerSignature', 'envelope']);
  for (const k of Object.keys(o)) if (!allowed.has(k)) throw new RangeError(`submission: unknown field "${k}"`);
  if (o.v !== 2) throw new RangeError(`submission: field "v" is ${JSON.stringify(o.v)}, expected 2 (batch layout v2)`);
  if (typeof o.gatewayId !== 'string' || o.gatewayId.length === 0 || o.gatewayId.length > 31) throw new RangeError('submission: field "gatewayId" must be 1..31 characters');
  if (!isHex(o.header) || o.header.length === 0) throw new RangeError('submission: field "header" must be lowercase hex');
  if (!isHex(o.headerSignature, 48)) throw new RangeError('submission: field "headerSignature" must be 48 bytes of hex');
  if (typeof o.envelope !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(o.envelope) || o.envelope.length === 0) throw new RangeError('submission: field "envelope" must be base64');
  return { v: 2, gatewayId: o.gatewayId, header: o.header, headerSignature: o.headerSignature, envelope: o.envelope };
}

export function parseSignedReceipt(x: unknown): SignedReceipt {
  if (typeof x !== 'object' || x === null) throw new RangeError('receipt: expected a JSON object');
  const o = x as { receipt?: Record<string, unknown>; signature?: unknown };
  const r = o.receipt;
  if (typeof r !== 'object' || r === null) throw new RangeError('receipt: field "receipt" missing');
  if (r.v !== 1 || r.status !== 'anchored') throw new RangeError('receipt: unsupported version or status');
  for (const k of ['nodeId', 'gatewayId', 'txHash'] as const) if (typeof r[k] !== 'string') throw new RangeError(`receipt: field "${k}" must be a string`);
  for (const k of ['seq', 'count', 'blockNumber'] as const) if (!Number.isSafeInteger(r[k])) throw new RangeError(`receipt: field "${k}" must be an integer`);
  if (!isHex(r.headerHash, 32) || !isHex(r.root, 32)) throw new RangeError('receipt: headerHash and root must be 32 bytes of hex');
  if (!isHex(o.signature, 48)) throw new RangeError('receipt: field "signature" must be 48 bytes of hex');
  if (r.fold !== undefined) {
    // The receipt must prove its own batch: the path leads from its header hash to the fold root.
    if (!verifyFold(Uint8Array.from(Buffer.from(r.headerHash, 'hex')), r.fold as FoldProof)) throw new RangeError('receipt: field "fold" does not lead from the header hash to the fold root');
  }
  return { receipt: r as unknown as BatchReceipt, signature: o.signature };
}
