/**
 * `mcps verify`: checks a run end to end (see cli/verification.ts for what is checked) and prints
 * a table and, as the last line, one JSON object.
 */
import { join, resolve } from 'node:path';
import { ethers } from 'ethers';
import { BatchStore } from '../chain-node/batch-store';
import { readAnchors, readDeployment, resolveAnchors } from '../contracts/deploy';
import { decodeHeader } from '../protocol/batch';
import { readSendLog } from '../device-sim/send-log';
import type { OwnerKeyPair } from '../gateway/sealing/envelope';
import { verifyRun, type VerifyReport } from './verification';

export async function collectAndVerify(a: { rpcUrl: string; anchorAddress: string; deployBlock: number; store: BatchStore; sendLogPath: string; owner: OwnerKeyPair; patientTagKey: Uint8Array }): Promise<VerifyReport> {
  const provider = new ethers.JsonRpcProvider(a.rpcUrl, undefined, { staticNetwork: true });
  try {
    // Folded mode holds only each group's head on chain: the store's headers rebuild the rest.
    const anchors = resolveAnchors(await readAnchors(provider, a.anchorAddress, a.deployBlock), (gw, seq) => {
      const b = a.store.meta(gw, seq);
      return b ? decodeHeader(Uint8Array.from(Buffer.from(b.submission.header, 'hex'))) : null;
    });
    const sent = readSendLog(a.sendLogPath).map((e) => ({ deviceId: e.deviceId, deviceSeq: e.deviceSeq, kind: e.kind, acked: e.acked, deviceTime: e.transport === 'serial' ? null : (e.deviceTime ?? e.sentAt), expectRefused: e.expect === 'refused' }));
    return await verifyRun({ sent, anchors, store: a.store, owner: a.owner, patientTagKey: a.patientTagKey });
  } finally {
    provider.destroy();
  }
}

export async function verifyCommand(dataDir: string): Promise<number> {
  const data = resolve(dataDir);
  const { loadOrCreateOwnerKey, loadOrCreatePatientTagKey } = require('./stack') as typeof import('./stack');
  const deployment = readDeployment(join(data, 'run'));
  const report = await collectAndVerify({
    rpcUrl: deployment.rpcUrl,
    anchorAddress: deployment.anchor,
    deployBlock: deployment.deployBlock,
    store: new BatchStore(join(data, 'chain-node', 'batches')),
    sendLogPath: join(data, 'sim', 'send-log.jsonl'),
    owner: await loadOrCreateOwnerKey(data),
    patientTagKey: loadOrCreatePatientTagKey(data),
  });
  const rows: Array<[string, number]> = [
    ['sent (acknowledged)', report.sent],
    ['anchored readings', report.anchored],
    ['verified batches', report.batches],
    ['missing', report.missing],
    ['duplicates', report.duplicates],
    ['proof failures', report.proofFailures],
    ['unexpected readings', report.unexpected],
    ['refused as expected', report.refusedAsExpected],
  ];
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(22)} ${v}\n`);
  for (const p of report.problems.slice(0, 20)) process.stdout.write(`  ! ${p}\n`);
  const { problems: _problems, ...figures } = report;
  process.stdout.write(JSON.stringify({ sent: figures.sent, anchored: figures.anchored, batches: figures.batches, missing: figures.missing, duplicates: figures.duplicates, proof_failures: figures.proofFailures, unexpected: figures.unexpected, refused_as_expected: figures.refusedAsExpected }) + '\n');
  return report.missing === 0 && report.duplicates === 0 && report.proofFailures === 0 ? 0 : 1;
}
