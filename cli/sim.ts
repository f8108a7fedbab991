/**
 * `mcps sim`: scenario files by path or by the name of a ready-made one (device-sim/scenarios/),
 * checked and described for the tester.
 */
import { modelReadingsPerS } from '../device-sim/device-models';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expandScenario, loadScenario, type Scenario } from '../device-sim/scenario';

/** device-sim/scenarios of this package (dist/cli → ../../device-sim/scenarios). */
export const SCENARIO_DIR = join(__dirname, '..', '..', 'device-sim', 'scenarios');

export function resolveScenario(fileOrName: string): Scenario {
  if (existsSync(fileOrName)) return loadScenario(fileOrName);
  const named = join(SCENARIO_DIR, `${fileOrName}.json`);
  if (/^[a-z0-9-]+$/.test(fileOrName) && existsSync(named)) return loadScenario(named);
  throw new Error(`scenario "${fileOrName}": no such file, and not a ready-made scenario (${names().join(', ')})`);
}

function names(): string[] {
  return existsSync(SCENARIO_DIR) ? readdirSync(SCENARIO_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort() : [];
}

export function listScenarios(): string {
  return names()
    .map((n) => {
      const s = loadScenario(join(SCENARIO_DIR, `${n}.json`));
      return `${n.padEnd(14)} ${expandScenario(s).length} devices, ${s.durationS ?? 60} s — ${s.name}\n`;
    })
    .join('');
}

export function describeScenario(s: Scenario): string {
  const devices = expandScenario(s);
  const lines = [`${s.name}: ${devices.length} devices, seed ${s.seed}, ${s.durationS ?? 60} s`];
  const perS = devices.filter((d) => d.transport === 'mqtt').reduce((n, d) => n + (d.model ? modelReadingsPerS(d.model, d.params) : d.ratePerS), 0);
  const hl7 = devices.filter((d) => d.transport === 'hl7');
  lines.push(`MQTT readings per second: ${perS.toFixed(1)}; serial devices: ${devices.filter((d) => d.transport === 'serial').length}; HL7 monitors: ${hl7.length}${hl7.length ? ` (${hl7.reduce((n, d) => n + d.ratePerS, 0).toFixed(1)} messages/s)` : ''}`);
  for (const d of devices.slice(0, 50)) lines.push(`  ${d.deviceId.padEnd(16)} ${d.patient.padEnd(10)} ${d.transport.padEnd(6)} ${(d.kind ?? (d.model ? `model ${d.model}` : null) ?? d.format ?? (d.transport === 'hl7' ? 'ORU^R01' : '')).padEnd(16)} ${d.transport !== 'serial' && !d.model ? `${d.ratePerS}/s` : ''} ${d.scenario}`);
  if (devices.length > 50) lines.push(`  … and ${devices.length - 50} more`);
  return lines.join('\n') + '\n';
}
