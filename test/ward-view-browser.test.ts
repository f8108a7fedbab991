// The ward view in a real browser on the real local stack: headless Chromium (Debian's, driven by
// playwright-core) opens /ward, signs in with the editor's login, sees the scenario's beds with
// their devices online, sees values change and the tachycardic bed alarmed; the data is refused
// without the login. Skips, saying so, where no chromium is installed (apt-get install chromium).
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack } from '../cli/stack';
import type { Scenario } from '../device-sim/scenario';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const scenario: Scenario = {
  name: 'three beds',
  seed: 15,
  devices: [
    { transport: 'mqtt', kind: 'spo2', count: 3, ratePerS: 2, idPrefix: 'spo2-bed', patientPrefix: 'p-' },
    { transport: 'mqtt', kind: 'heart_rate', count: 1, first: 1, ratePerS: 2, idPrefix: 'ecg-bed', patientPrefix: 'p-' },
    { transport: 'mqtt', kind: 'heart_rate', count: 1, first: 2, ratePerS: 2, idPrefix: 'ecg-bed', patientPrefix: 'p-', scenario: 'tachycardia' },
    { transport: 'mqtt', kind: 'resp_rate', count: 1, first: 3, ratePerS: 1, idPrefix: 'resp-bed', patientPrefix: 'p-' },
  ],
};

t.test('the ward view in headless Chromium', { skip: existsSync(chromiumPath) ? false : `no chromium at ${chromiumPath} (apt-get install chromium, or set CHROMIUM_PATH): the browser test is skipped` }, async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'mcps-ward-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const stack = await startStack({ data, editorPort: 0, mqttPort: 0, nodePort: 0, scenario });
  t.teardown(() => stack.stop());
  const login = JSON.parse(readFileSync(stack.editorCredentialsPath, 'utf8')) as { username: string; password: string };

  const anon = await fetch(`${stack.editorUrl}ward/state`);
  t.equal(anon.status, 401, 'the ward data needs the editor login');
  const shell = await fetch(`${stack.editorUrl}ward`);
  t.equal(shell.status, 200);
  t.notMatch(await shell.text(), /p-0001/, 'the page itself carries no patient data');

  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
  await page.goto(`${stack.editorUrl}ward`);
  await page.waitForSelector('#login:not([hidden])', { timeout: 30_000 });
  await page.fill('#pass', 'not the password');
  await page.click('#login button');
  await page.waitForFunction(() => /wrong user or password/.test(document.getElementById('error')?.textContent ?? ''), undefined, { timeout: 30_000 });
  t.pass('a wrong password is refused');
  await page.fill('#user', login.username);
  await page.fill('#pass', login.password);
  await page.click('#login button');

  await page.waitForFunction(() => document.querySelectorAll('section[data-bed]').length === 3, undefined, { timeout: 60_000 });
  const beds = await page.$$eval('section[data-bed]', (els) => els.map((e) => e.getAttribute('data-bed')));
  t.same(beds, ['p-0001', 'p-0002', 'p-0003'], 'one tile per bed of the scenario');
  await page.waitForFunction(() => document.querySelectorAll('section[data-bed] .devs .dot.online').length === 6, undefined, { timeout: 60_000 });
  t.pass('all six devices online');

  const spo2 = () => page.$eval('section[data-bed="p-0001"] .v[data-kind="spo2"] .n', (e) => e.textContent);
  const first = await spo2();
  t.match(first, /^\d+$/, `bed 1 shows SpO2 ${first}`);
  const seen = new Set([first]);
  const end = Date.now() + 60_000;
  while (seen.size < 3 && Date.now() < end) {
    await page.waitForTimeout(500);
    seen.add(await spo2());
  }
  t.ok(seen.size >= 3, `the value changes live (${[...seen].join(', ')})`);
  await page.waitForSelector('section[data-bed="p-0002"].alarm .alarms', { timeout: 60_000 });
  t.match(await page.$eval('section[data-bed="p-0002"] .alarms', (e) => e.textContent), /tachycardia: HR 1[3-9]\d/, 'the tachycardic bed is alarmed');
  t.ok(await page.$eval('section[data-bed="p-0001"] svg path', (e) => (e.getAttribute('d') ?? '').length > 0), 'a trend is drawn');
  t.match(await page.$eval('#g-flow b', (e) => e.textContent), 'running', 'the gateway state shows');
  t.match(await page.$eval('#counts', (e) => e.textContent), /3 beds · devices 6 online/);
  const shot = process.env.MCPS_WARD_SCREENSHOT ?? join(data, 'ward.png');
  await page.screenshot({ path: shot });
  t.ok(existsSync(shot));
});
