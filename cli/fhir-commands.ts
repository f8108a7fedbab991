/**
 * `mcps fhir convert`: canonical readings (JSON Lines, e.g. what a granted data user fetched and
 * decrypted) to one FHIR R4 Bundle, so the readings can go straight into a hospital's FHIR server or
 * be handed over as a document. The mapping itself is fhir/ (pure); docs/fhir.md describes it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';

interface ConvertOptions {
  type: 'collection' | 'transaction';
  output?: string;
  patientSystem?: string;
  deviceSystem?: string;
  pretty?: boolean;
}

export function convertCommand(file: string, o: ConvertOptions): number {
  const { parseCanonicalJsonl } = require('../fhir/canonical-jsonl') as typeof import('../fhir/canonical-jsonl');
  const { readingsToBundle, readingToObservation } = require('../fhir/bundle') as typeof import('../fhir/bundle');
  let text: string;
  try {
    text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (err) {
    process.stderr.write(`mcps fhir convert: cannot read ${file}: ${(err as Error).message}\n`);
    return 1;
  }
  const { readings, refused } = parseCanonicalJsonl(text, file === '-' ? 'stdin' : file, (r) => void readingToObservation(r));
  for (const r of refused) process.stderr.write(`mcps fhir convert: refused ${r.reason}\n`);
  let bundle;
  try {
    bundle = readingsToBundle(readings, { type: o.type, timestamp: Date.now(), patientSystem: o.patientSystem, deviceSystem: o.deviceSystem });
  } catch (err) {
    process.stderr.write(`mcps fhir convert: ${(err as Error).message}\n`);
    return 1;
  }
  const json = JSON.stringify(bundle, null, o.pretty ? 2 : undefined) + '\n';
  if (o.output) writeFileSync(o.output, json);
  else process.stdout.write(json);
  const observations = (bundle.entry ?? []).filter((e) => e.resource?.resourceType === 'Observation').length;
  process.stderr.write(`mcps fhir convert: ${readings.length} readings → ${observations} Observations in a ${o.type} Bundle${o.output ? ` (${o.output})` : ''}; ${refused.length} lines refused\n`);
  return refused.length ? 2 : 0;
}

export function registerFhirCommands(program: Command): void {
  const fhir = program.command('fhir').description('FHIR R4: turn canonical readings into Observations, Devices and Bundles (see docs/fhir.md)');
  fhir
    .command('convert')
    .description('a canonical-readings JSONL file (one reading per line; - for stdin) to one FHIR R4 Bundle on stdout or --output')
    .argument('<file>', 'JSON Lines of canonical readings, or - for stdin')
    .addOption(new Option('--type <type>', 'collection (a document) or transaction (to POST to a FHIR server\'s base URL)').choices(['collection', 'transaction']).default('collection'))
    .option('-o, --output <file>', 'write the Bundle here instead of stdout')
    .option('--patient-system <uri>', 'identifier system of the patient pseudonyms', 'urn:mcps-edge:patient-pseudonym')
    .option('--device-system <uri>', 'identifier system of the device ids', 'urn:mcps-edge:device')
    .option('--pretty', 'indent the JSON')
    .addHelpText('after', `
Each line is checked like a batch leaf (the eleven canonical fields); a bad line is refused on stderr
with its line number and the rest still converts. Exit 0: all converted; 2: some lines refused;
1: nothing could be written. Systolic and diastolic pressure of one device at one time become one
blood-pressure panel (LOINC 85354-9). Ids derive from the readings, so a transaction posted twice
updates in place and never duplicates.`)
    .action((file: string, o: ConvertOptions) => {
      process.exitCode = convertCommand(file, o);
    });
}
