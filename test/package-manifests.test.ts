// gateway/host/node-red-host.ts forgetPackageManifests: the package.json files Node-RED's registry
// required while it scanned node_modules leave require's cache (and their parent's children).
import t from 'tap';
import { join } from 'node:path';
import { forgetPackageManifests, PACKAGE_ROOT } from '../gateway/host/node-red-host';

t.test('manifests loaded since the mark are dropped, the others and the modules kept', async (t) => {
  const before = new Set(Object.keys(require.cache));
  const manifest = require.resolve(join(PACKAGE_ROOT, 'node_modules', 'commander', 'package.json'));
  const code = require.resolve('bcryptjs');
  const hadCode = code in require.cache;
  const pkg = require(manifest) as { name: string };
  require(code);
  t.equal(pkg.name, 'commander');
  t.ok(manifest in require.cache);
  t.ok(module.children.some((c) => c.id === manifest), 'this module lists it as a child');
  t.ok(forgetPackageManifests(before) >= 1);
  t.notOk(manifest in require.cache, 'the manifest left the cache');
  t.notOk(module.children.some((c) => c.id === manifest), 'and this module no longer holds it');
  t.ok(hadCode || code in require.cache, 'code modules stay');
  t.equal((require(manifest) as { name: string }).name, 'commander', 'read again when asked');
  t.equal(forgetPackageManifests(new Set(Object.keys(require.cache))), 0, 'nothing new: nothing dropped');
});
