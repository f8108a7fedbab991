// The short crash drill (the long one is test/crash-long.test.ts, behind MCPS_LONG_TESTS=1):
// readings stream from MQTT devices through the whole stack while the gateway and the chain node
// are killed with SIGKILL at seeded random moments and the chain is frozen; afterwards every
// acknowledged reading must be anchored exactly once. MCPS_CRASH_SEED replays a given run.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCrashDrill } from '../cli/crash-drill';

// Both anchoring modes: folded (the default) and trustless (the contract checks the gateways'
// signatures); MCPS_CRASH_MODE=folded or trustless runs one of them.
const modes = (['folded', 'trustless'] as const).filter((m) => !process.env.MCPS_CRASH_MODE || process.env.MCPS_CRASH_MODE === m);

for (const mode of modes) t.test(`${mode} anchoring: no acknowledged reading is lost or duplicated across SIGKILLs of the gateway and the chain node`, async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'mcps-crash-'));
  const seed = Number(process.env.MCPS_CRASH_SEED ?? 20261125);
  const log: string[] = [];
  const childLog: string[] = [];
  const report = await runCrashDrill({ data, seed, ...(mode === 'trustless' ? { trustless: true } : {}), devices: 4, readingsPerDevice: 5000, maxRatePerS: 500, kills: 6, chainPauses: 2, maxPauseMs: 3000, log: (m) => log.push(m), onChildLog: (l) => childLog.push(l) });
  t.comment(log.join('\n'));
  t.comment(JSON.stringify({ ...report, verify: { ...report.verify, problems: report.verify.problems.slice(0, 5) } }));
  if (report.verify.missing > 0 || report.verify.duplicates > 0) t.comment(childLog.slice(-80).join('\n'));
  t.equal(report.acked, report.readings, 'every reading was eventually acknowledged');
  t.equal(report.kills.gateway + report.kills['chain-node'] > 0, true, 'processes were killed');
  t.equal(report.verify.missing, 0, 'no acknowledged reading is missing');
  t.equal(report.verify.duplicates, 0, 'no reading is anchored twice');
  t.equal(report.verify.proofFailures, 0, 'every stored batch matches its on-chain root');
  t.equal(report.verify.sent, report.readings);
  rmSync(data, { recursive: true, force: true });
});
