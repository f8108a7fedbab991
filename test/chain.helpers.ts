// A real local chain for tests: anvil, the contracts deployed, hospital "h" and chain node "n"
// registered (keys from fixed seeds), and a way to register gateways. Stopped by the test's teardown.
import { ethers } from 'ethers';
import { startAnvil } from '../contracts/anvil';
import { deployContracts, registerGateway, registerHospital, registerNode, type Deployment } from '../contracts/deploy';
import { blsKeygen, blsPopProve, blsPublicKey } from '../protocol/bls';

export interface TestChain {
  rpcUrl: string;
  deployment: Deployment;
  operator: ethers.Signer;
  nodeSecretKey: Uint8Array;
  /** Registers gateway `id` under hospital "h" with the BLS key made from `seedByte`; returns its secret key. */
  addGateway(id: string, seedByte: number): Promise<Uint8Array>;
}

/** anvil with the contracts deployed by account 0 (admin) and hospital "h" administered by account 1. */
export interface ChainWithHospital {
  anvil: { url: string };
  provider: ethers.JsonRpcProvider;
  admin: ethers.JsonRpcSigner;
  hosp: ethers.JsonRpcSigner;
  d: Deployment;
}

export async function chainWithHospital(t: { teardown(fn: () => unknown): void }, opts: { trustless?: boolean } = {}): Promise<ChainWithHospital> {
  const anvil = await startAnvil();
  t.teardown(() => anvil.stop());
  // No 250 ms sharing of identical requests: a test reads the chain right after changing it.
  const provider = new ethers.JsonRpcProvider(anvil.url, undefined, { staticNetwork: true, pollingInterval: 50, cacheTimeout: -1 });
  t.teardown(() => provider.destroy());
  const [admin, hosp] = await Promise.all([0, 1].map((i) => provider.getSigner(i)));
  const d = await deployContracts(admin!, opts);
  await registerHospital(admin!, d.registry, 'h', await hosp!.getAddress());
  return { anvil: { url: anvil.url }, provider, admin: admin!, hosp: hosp!, d };
}

export const fixedKey = (b: number): Uint8Array => blsKeygen(new Uint8Array(48).fill(b));

export async function testChain(t: { teardown(fn: () => unknown): void }, opts: { trustless?: boolean } = {}): Promise<TestChain> {
  const { anvil, provider, admin, hosp, d: deployment } = await chainWithHospital(t, opts);
  const operator = await provider.getSigner(2);
  const nodeSecretKey = fixedKey(1);
  await registerNode(admin!, deployment.registry, { id: 'n', operator: await operator!.getAddress(), blsPublicKey: blsPublicKey(nodeSecretKey), pop: blsPopProve(nodeSecretKey), x25519PublicKey: new Uint8Array(32).fill(1) });
  return {
    rpcUrl: anvil.url,
    deployment,
    operator: operator!,
    nodeSecretKey,
    addGateway: async (id, seedByte) => {
      const sk = fixedKey(seedByte);
      await registerGateway(hosp!, deployment.registry, { id, hospital: 'h', blsPublicKey: blsPublicKey(sk), pop: blsPopProve(sk) });
      return sk;
    },
  };
}
