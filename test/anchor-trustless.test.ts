// Trustless anchoring on a real anvil: the Anchor contract parses the gateways' headers, hashes them
// to G1 under the signature DST as the off-chain code does, and checks one aggregate signature per
// transaction (n + 1 pairings for n gateways). A node that forges, alters or replays a header gets
// its transaction reverted.
import t from 'tap';
import { ethers } from 'ethers';
import { AnchorClient, AnchorRevert, type AnchorRequest } from '../contracts/clients';
import { readAnchors, resolveAnchors } from '../contracts/deploy';
import { aggregateG1ToEip2537, g2ToEip2537 } from '../contracts/eip2537';
import { encodeHeader, headerHash, type BatchHeader } from '../protocol/batch';
import { blsPublicKey, blsSign } from '../protocol/bls';
import { verifyFold } from '../protocol/fold';
import { fixedKey, testChain } from './chain.helpers';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const refusal = (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: unknown) => (e instanceof AnchorRevert ? e.errorName : String(e)));

function header(gatewayId: string, seq: number, prevHash: Uint8Array, salt = ''): BatchHeader {
  const t0 = 1_764_000_000_000 + seq * 1000;
  return { version: 2, gatewayId, seq, prevHash, root: ethers.getBytes(ethers.id(`root ${gatewayId} ${seq} ${salt}`)), count: 1000, firstReceivedAt: t0, lastReceivedAt: t0 + 500, sealedAt: t0 + 600, watermark: t0 - 1, sliceCount: 3, directoryHash: ethers.getBytes(ethers.id(`dir ${gatewayId} ${seq}`)) };
}

/** The request a chain node makes of a header signed with `sk`. */
function signed(h: BatchHeader, sk: Uint8Array): AnchorRequest {
  const hh = headerHash(h);
  return { gatewayId: h.gatewayId, seq: h.seq, prevHash: h.prevHash, headerHash: hh, root: h.root, count: h.count, header: encodeHeader(h), signature: blsSign(sk, hh) };
}

/** A gateway's batches as the chain node hands them to the anchor client: header, hash, signature. */
class Gw {
  seq = 0;
  prev: Uint8Array = new Uint8Array(32);
  constructor(readonly id: string, readonly sk: Uint8Array) {}
  next(signWith = this.sk): AnchorRequest {
    const h = header(this.id, ++this.seq, this.prev);
    const hh = headerHash(h);
    this.prev = hh;
    return { gatewayId: this.id, seq: h.seq, prevHash: h.prevHash, headerHash: hh, root: h.root, count: h.count, header: encodeHeader(h), signature: blsSign(signWith, hh) };
  }
  /** Undo the local advance of a request that was refused. */
  back(r: AnchorRequest): void {
    this.seq = r.seq - 1;
    this.prev = r.prevHash;
  }
}

t.test('trustless anchoring on anvil', async (t) => {
  const chain = await testChain(t, { trustless: true });
  const d = chain.deployment;
  const gws: Gw[] = [];
  for (let i = 0; i < 5; i++) gws.push(new Gw(`gw-t${i}`, await chain.addGateway(`gw-t${i}`, 60 + i)));
  const client = new AnchorClient(chain.operator, d.anchor, d.deployBlock);
  const provider = chain.operator.provider!;
  t.equal(await client.trustless(), true);

  t.test('5 gateways x 2 signed batches in one transaction, one pairing check', async (t) => {
    const reqs: AnchorRequest[] = [];
    for (let k = 0; k < 2; k++) for (const g of gws) reqs.push(g.next());
    const r = await client.anchorFolded(reqs);
    t.comment(`gas of anchorSigned with 10 batches of 5 gateways: ${r.gasUsed} (${Number(r.gasUsed) / 10} per batch)`);
    for (const g of gws) t.same(await client.head(g.id), { seq: 2, headerHash: g.prev }, `${g.id}: head moved to its second batch`);
    reqs.forEach((q, i) => t.ok(verifyFold(q.headerHash, r.folds[i]!), `request ${i}: fold proof`));
    const events = resolveAnchors(await readAnchors(provider, d.anchor, d.deployBlock));
    t.equal(events.length, 10);
    const e = events.find((x) => x.gatewayId === 'gw-t3' && x.seq === 2)!;
    t.equal(e.headerHash, hex(gws[3]!.prev), 'the chain hashed the header as protocol/batch.ts does');
    t.equal(e.root, hex(header('gw-t3', 2, new Uint8Array(32)).root), 'the root is read from the signed header');
    t.equal(e.count, 1000);
  });

  t.test('a forged, altered, replayed or misattributed header reverts', async (t) => {
    const g = gws[0]!;
    const other = gws[1]!;
    // forged: signed with a key that is not the gateway's
    let q = g.next(fixedKey(99));
    const o = other.next();
    t.equal(await refusal(client.anchorFolded([q, o])), 'BadSignature', 'a header signed by another key (beside a genuine one)');
    g.back(q);
    other.back(o);
    // altered: the gateway signed one header, the node sends another (a changed root)
    q = g.next();
    const altered = header(g.id, q.seq, q.prevHash, 'altered');
    t.equal(await refusal(client.anchorFolded([{ ...q, header: encodeHeader(altered), headerHash: headerHash(altered) }])), 'BadSignature', 'an altered header');
    // replayed: a header the chain already holds
    t.equal(await refusal(client.anchorFolded([signed(header(g.id, 1, new Uint8Array(32)), g.sk)])), 'BadSequence', 'a replayed header (seq 1 again)');
    // the genuine header still goes through
    t.equal(await refusal(client.anchorFolded([q])), 'ok', 'the genuine header is anchored');
    // a gap, and a fork
    const skipped = g.next();
    const gap = g.next();
    t.equal(await refusal(client.anchorFolded([gap])), 'BadSequence', 'a gap');
    g.back(skipped);
    t.equal(await refusal(client.anchorFolded([signed(header(g.id, g.seq + 1, new Uint8Array(32).fill(7)), g.sk)])), 'WrongPrevHash', 'a fork, even signed by the gateway');
    // inside one group the full previous hash is checked
    const a = g.next();
    t.equal(await refusal(client.anchorFolded([a, signed(header(g.id, a.seq + 1, new Uint8Array(32).fill(8)), g.sk)])), 'WrongPrevHash', 'a broken link inside a group');
    g.back(a);
  });

  t.test('raw calls: the wrong key, a malformed header, the wrong mode', async (t) => {
    const raw = client.contract.getFunction('anchorSigned');
    const decode = (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: unknown) => (e as { revert?: { name: string } }).revert?.name ?? String(e));
    const g = gws[2]!;
    const q = g.next();
    g.back(q);
    const sig = aggregateG1ToEip2537([q.signature!]);
    const key = (i: number): string => ethers.hexlify(g2ToEip2537(blsPublicKey(fixedKey(i))));
    t.equal(await decode(raw.staticCall([ethers.hexlify(q.header!)], [key(60 + 2)], sig, { from: await chain.operator.getAddress() })), 'ok', 'the registered key passes');
    t.equal(await decode(raw.staticCall([ethers.hexlify(q.header!)], [key(61)], sig, { from: await chain.operator.getAddress() })), 'WrongKey', "another gateway's key");
    t.equal(await decode(raw.staticCall([ethers.hexlify(q.header!.slice(0, -1))], [key(62)], sig, { from: await chain.operator.getAddress() })), 'BadHeader', 'a truncated header');
    t.equal(await decode(raw.staticCall([ethers.hexlify(q.header!)], [key(62), key(62)], sig, { from: await chain.operator.getAddress() })), 'LengthMismatch', 'a key too many');
    t.equal(await decode(client.contract.getFunction('anchorFolded').staticCall([], ethers.id('r'), { from: await chain.operator.getAddress() })), 'WrongMode', 'unsigned hashes are refused by a trustless deployment');
  });
});

t.test('a folded deployment refuses signed headers (the mode is fixed at deployment)', async (t) => {
  const chain = await testChain(t);
  const client = new AnchorClient(chain.operator, chain.deployment.anchor);
  t.equal(await client.trustless(), false);
  const raw = client.contract.getFunction('anchorSigned');
  const e = await raw.staticCall([], [], '0x', { from: await chain.operator.getAddress() }).then(() => 'ok', (err: unknown) => (err as { revert?: { name: string } }).revert?.name);
  t.equal(e, 'WrongMode');
});
