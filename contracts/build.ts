/**
 * Compiles the Solidity contracts with the npm package solc (solc-js, no compiler download), into
 * ABI + bytecode artefacts under dist/contracts/artifacts/. Deterministic: pinned compiler version,
 * fixed optimizer settings, no metadata hash in the bytecode. Skips work when the sources (and the
 * settings) hash to what the existing artefacts were built from.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export const SOLC_VERSION = '0.8.30';
export const CONTRACT_NAMES = ['Registry', 'Anchor', 'AccessLog'] as const;
const SOURCE_DIR = resolve(__dirname, '..', '..', 'contracts');
export const ARTIFACT_DIR = resolve(__dirname, 'artifacts');

const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'prague',
  metadata: { bytecodeHash: 'none' },
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
} as const;

export interface Artifact {
  contractName: string;
  abi: unknown[];
  bytecode: string;
  solcVersion: string;
  sourceHash: string;
}

interface SolcOutput {
  errors?: Array<{ severity: string; formattedMessage: string }>;
  contracts: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>>;
}

function findImport(path: string): { contents: string } | { error: string } {
  for (const base of [join(SOURCE_DIR, '..', 'node_modules'), SOURCE_DIR]) {
    const p = join(base, path);
    if (existsSync(p)) return { contents: readFileSync(p, 'utf8') };
  }
  return { error: `import not found: ${path}` };
}

export async function buildContracts(): Promise<void> {
  const files = readdirSync(SOURCE_DIR).filter((f) => f.endsWith('.sol')).sort();
  const sources: Record<string, { content: string }> = {};
  for (const f of files) sources[f] = { content: readFileSync(join(SOURCE_DIR, f), 'utf8') };
  const sourceHash = createHash('sha256').update(JSON.stringify({ SOLC_VERSION, SETTINGS, sources })).digest('hex');
  const upToDate = CONTRACT_NAMES.every((n) => {
    const p = join(ARTIFACT_DIR, `${n}.json`);
    return existsSync(p) && (JSON.parse(readFileSync(p, 'utf8')) as Artifact).sourceHash === sourceHash;
  });
  if (upToDate) return;

  // solc is CommonJS without types.
  const solc = require('solc') as { version(): string; compile(input: string, opts: { import: typeof findImport }): string };
  const version = solc.version();
  if (!version.startsWith(`${SOLC_VERSION}+`)) throw new Error(`solc ${version} installed, the build is pinned to ${SOLC_VERSION} (npm ci installs the locked version)`);
  const out = JSON.parse(solc.compile(JSON.stringify({ language: 'Solidity', sources, settings: SETTINGS }), { import: findImport })) as SolcOutput;
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) throw new Error(`solidity compile failed:\n${errors.map((e) => e.formattedMessage).join('\n')}`);
  mkdirSync(ARTIFACT_DIR, { recursive: true });
  for (const name of CONTRACT_NAMES) {
    const c = out.contracts[`${name}.sol`]?.[name];
    if (!c) throw new Error(`contract ${name} missing from compiler output`);
    const art: Artifact = { contractName: name, abi: c.abi, bytecode: `0x${c.evm.bytecode.object}`, solcVersion: version, sourceHash };
    const p = join(ARTIFACT_DIR, `${name}.json`);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, JSON.stringify(art, null, 2) + '\n');
  }
  process.stdout.write(`contracts: compiled ${CONTRACT_NAMES.join(', ')} with solc ${version}\n`);
}

if (require.main === module) {
  buildContracts().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
