// The whole stack on real parts: anvil, the contracts, the chain node and the gateway as processes,
// Node-RED with our nodes, a pulse oximeter over a real pseudo-terminal and two MQTT devices over TCP.
// Checks that every reading sent is anchored exactly once, and — independently of `mcps verify` —
// that each stored batch's Merkle root, recomputed from its decrypted readings, is the root on chain.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ethers } from 'ethers';
import { AnchorClient } from '../contracts/clients';
import { readSendLog } from '../device-sim/send-log';
import { EpochKeyOpener } from '../gateway/sealing/envelope';
import { checkEnvelope, decodeHeader, headerHash, openBatchAsOwner } from '../protocol/batch';
import { verifyFold } from '../protocol/fold';
import { startStack } from '../cli/stack';
import { loadScenario } from '../device-sim/scenario';
import { lastJson, mcps } from './cli.helpers';
import { parseLogLine } from '../common/log';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { promtool } from './promtool.helpers';

t.test('every reading sent is anchored exactly once and roots match the chain', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'mcps-stack-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const childLog: string[] = [];
  const stack = await startStack({ data, editorPort: 0, mqttPort: 0, nodePort: 0, mqttRatePerS: 5, onChildLog: (l) => childLog.push(l) });
  t.teardown(() => stack.stop());

  await new Promise((r) => setTimeout(r, 6000));
  const { sim, gateway } = await stack.drain();
  t.ok((sim.bySource.serial ?? 0) > 0, 'the oximeter sent readings over the tty');
  t.ok((sim.bySource.mqtt ?? 0) > 0, 'the MQTT devices sent readings');
  t.equal(gateway.readingsRejected, 0, 'nothing refused on a clean link');
  t.equal(gateway.readingsIn, sim.acked, 'the gateway received every acknowledged reading');
  t.equal(gateway.readingsAnchored, gateway.readingsIn, 'the gateway holds a receipt for every reading');

  // Independent check against the chain while it still runs.
  const provider = new ethers.JsonRpcProvider(stack.rpcUrl, undefined, { staticNetwork: true });
  t.teardown(() => provider.destroy());
  const anchor = new AnchorClient(provider, stack.deployment.anchor);
  const seen = new Map<string, number>();
  const seqs = stack.store.sequences('gw-ward1');
  const epochKeys = new EpochKeyOpener(stack.owner.privateKey);
  t.ok(seqs.length >= 2, `several batches (${seqs.length})`);
  t.same(seqs, seqs.map((_, i) => i + 1), 'sequence numbers 1..n without gaps');
  for (const seq of seqs) {
    const b = stack.store.get('gw-ward1', seq)!;
    const header = decodeHeader(Uint8Array.from(Buffer.from(b.submission.header, 'hex')));
    const envelope = Uint8Array.from(Buffer.from(b.submission.envelope, 'base64'));
    const { directory } = checkEnvelope(header, envelope);
    // openBatchAsOwner recomputes every slice root from the decrypted readings and the root from them.
    const readings = openBatchAsOwner(header, envelope, await epochKeys.open('gw-ward1', directory.epochId, directory.wrappedEpochKey), stack.patientTagKey);
    // The chain holds each group's head; the stored headers after a batch link it to that head.
    const onChain = await anchor.findAnchored('gw-ward1', seq, (g, s) => {
      const x = stack.store.meta(g, s);
      return x ? decodeHeader(Uint8Array.from(Buffer.from(x.submission.header, 'hex'))) : null;
    });
    t.same(onChain?.headerHash, headerHash(header), `batch ${seq}: header hash on chain = hash of the stored header, whose root is recomputed from the stored readings`);
    t.ok(b.receipt?.receipt.fold && verifyFold(headerHash(header), b.receipt.receipt.fold) && b.receipt.receipt.fold.root === onChain?.fold?.root, `batch ${seq}: the receipt's fold path leads to the root the contract logged`);
    t.equal(readings.length, header.count);
    for (const r of readings) {
      const k = `${r.deviceId}/${r.deviceSeq}/${r.kind}`;
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
  }
  const sent = readSendLog(stack.sendLogPath).filter((e) => e.acked);
  const missing = sent.filter((e) => !seen.has(`${e.deviceId}/${e.deviceSeq}/${e.kind}`));
  t.equal(sent.length, sim.acked, 'the send log lists every acknowledged reading');
  t.same(missing, [], 'nothing sent is missing on chain');
  t.same([...seen.values()].filter((n) => n > 1), [], 'nothing anchored twice');
  t.equal(seen.size, sent.length, 'nothing anchored that was not sent');

  const report = await stack.verify();
  t.match(report, { missing: 0, duplicates: 0, proofFailures: 0, sent: sent.length, anchored: sent.length });

  // A Prometheus scrape of the running gateway and chain node.
  const scrape = async (base: string | null): Promise<string> => {
    t.ok(base, 'a monitoring URL');
    const r = await fetch(`${base}/metrics`);
    t.equal(r.status, 200);
    return r.text();
  };
  const num = (text: string, series: string): number => Number(text.split('\n').find((l) => l.startsWith(series + ' '))?.slice(series.length + 1));
  const gwText = await scrape(stack.gatewayMetricsUrl);
  t.equal(num(gwText, 'mcps_gateway_readings_accepted_total'), gateway.readingsIn, 'the gateway metrics count what the gateway accepted');
  t.equal(num(gwText, 'mcps_gateway_readings_anchored_total'), gateway.readingsAnchored);
  t.ok(num(gwText, 'mcps_gateway_handshakes_total') >= 1, 'handshakes counted');
  t.ok(num(gwText, 'mcps_gateway_anchor_latency_seconds_count') >= 2, 'anchoring latency observed per batch');
  t.equal(num(gwText, 'mcps_gateway_registration_state{state="registered"}'), 1);
  t.equal(num(gwText, 'mcps_gateway_chain_node_current{node="node-1"}'), 1);
  // The devices stopped at drain: the ports are open, or stale by now (no frame for 5 s).
  t.equal(gwText.split('\n').filter((l) => l.startsWith('mcps_gateway_serial_port_state{') && /state="(open|stale)"/.test(l) && l.endsWith(' 1')).length, 3, 'three serial ports, each open or stale');
  const nodeText = await scrape(stack.nodeMetricsUrl);
  t.equal(num(nodeText, 'mcps_chain_node_batches_ingested_total'), seqs.length, 'the chain node counts the batches it anchored');
  t.ok(num(nodeText, 'mcps_chain_node_anchor_gas_used_total') > 0, 'and the gas');
  t.equal(num(nodeText, 'mcps_chain_node_user_accesses_total{outcome="served"}'), 0);
  const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'operations.md'), 'utf8');
  const nodeNames = [...new Set([...nodeText.matchAll(/^# TYPE (mcps_\w+) /gm)].map((m) => m[1]!))];
  t.same(nodeNames.filter((n) => !doc.includes(`\`${n}\``)), [], 'every chain node metric documented in docs/operations.md');
  if (!promtool()) t.comment('SKIP promtool check metrics: promtool is not installed (Debian package prometheus)');
  else {
    for (const [who, text] of [['gateway', gwText], ['chain node', nodeText]]) {
      const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      t.equal(r.status, 0, `promtool check metrics accepts the ${who}'s exposition ${r.stdout}${r.stderr}`);
    }
  }
  for (const base of [stack.gatewayMetricsUrl, stack.nodeMetricsUrl]) {
    t.equal((await fetch(`${base}/healthz`)).status, 200, `${base}/healthz`);
    const ready = await fetch(`${base}/readyz`);
    t.equal(ready.status, 200, `${base}/readyz: ${await ready.clone().text()}`);
  }
  const parsed = childLog.map((l) => parseLogLine(l));
  t.same(childLog.filter((_, i) => parsed[i] === null), [], 'every line the children log is one JSON event');
  t.same(parsed.filter((p) => p?.level === 'error'), [], 'no errors logged by the children');
  t.equal(gateway.registration, 'registered', 'the flow\'s gateway identity checked against the on-chain registry: registered');
  // The stack registered through mcps admin's code; mcps admin reads it back with --data.
  const listed = lastJson(await mcps(['admin', 'list', '--data', data, '--json']));
  t.match(listed, { ok: true, parties: [{ id: 'hospital-a', role: 'hospital' }, { id: 'node-1', role: 'node', active: true }, { id: 'gw-ward1', role: 'gateway', hospital: 'hospital-a', active: true }] });
});

t.test('the faults scenario end to end: verify keeps deliberately invalid readings apart, nothing acknowledged is lost', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'mcps-stack-faults-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const scenario = loadScenario(join(__dirname, '..', '..', 'device-sim', 'scenarios', 'faults.json'));
  // Faster than the shipped file so a short run sees every fault: more faults, a cut every 3 s.
  for (const g of scenario.devices) for (const f of g.faults ?? []) {
    if (f.probability !== undefined) f.probability = Math.max(f.probability, 0.3);
    if (f.everyS !== undefined) f.everyS = 3;
  }
  const stack = await startStack({ data, editorPort: 0, mqttPort: 0, nodePort: 0, scenario });
  t.teardown(() => stack.stop());
  await new Promise((r) => setTimeout(r, 8000));
  const { sim, gateway } = await stack.drain();
  for (const f of ['drop', 'duplicate', 'reorder', 'out-of-range', 'clock-jump', 'disconnect']) t.ok((sim.faults[f] ?? 0) > 0, `${f}: ${sim.faults[f]} injected`);
  const log = readSendLog(stack.sendLogPath);
  const refused = log.filter((e) => e.expect === 'refused');
  t.equal(gateway.readingsRejected, refused.length, 'every out-of-range reading refused by the gateway, and nothing else');
  t.ok(log.some((e) => e.deviceTime !== undefined && e.deviceTime < e.sentAt - 3_000_000), 'the skewed clock is in the send log');
  const report = await stack.verify();
  t.match(report, { missing: 0, duplicates: 0, proofFailures: 0, refusedAsExpected: refused.length });
  t.equal(report.sent, log.filter((e) => e.acked && e.expect !== 'refused').length);
  t.equal(report.anchored, report.sent, 'every acknowledged valid reading anchored once');
});
