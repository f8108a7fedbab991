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

export const fixedKey = (b: number): Uint8Array => blsKeygen(new Uint8Array(48).fill(b));

export async function testChain(t: { teardown(fn: () => unknown): void }, opts: { trustless?: boolean } = {}): Promise<TestChain> {
  const anvil = await startAnvil();
  t.teardown(() => anvil.stop());
  const provider = new ethers.JsonRpcProvider(anvil.url, undefined, { staticNetwork: true, pollingInterval: 50 });
  t.teardown(() => provider.destroy());
  const [admin, hosp, operator] = await Promise.all([0, 1, 2].map((i) => provider.getSigner(i)));
  const deployment = await deployContracts(admin!, opts);
  await registerHospital(admin!, deployment.registry, 'h', await hosp!.getAddress());
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
