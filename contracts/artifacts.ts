/**
 * Loads the compiled contract artefacts (written by contracts/build.ts at `npm run build`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ethers } from 'ethers';
import { ARTIFACT_DIR, type Artifact } from './build';

export type ContractName = 'Registry' | 'Anchor' | 'AccessLog';

const cache = new Map<ContractName, { abi: ethers.InterfaceAbi; bytecode: string }>();

export function loadArtifact(name: ContractName): { abi: ethers.InterfaceAbi; bytecode: string } {
  const hit = cache.get(name);
  if (hit) return hit;
  const p = join(ARTIFACT_DIR, `${name}.json`);
  if (!existsSync(p)) throw new Error(`contract artefact ${p} is missing: run npm run build`);
  const a = JSON.parse(readFileSync(p, 'utf8')) as Artifact;
  const v = { abi: a.abi as ethers.InterfaceAbi, bytecode: a.bytecode };
  cache.set(name, v);
  return v;
}
