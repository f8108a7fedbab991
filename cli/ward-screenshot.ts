/**
 * Takes the ward view screenshot in docs/ward-view.md and the README: runs the local stack with the
 * 20-bed ward scenario, signs in to /ward in headless Chromium (playwright-core driving the system's
 * chromium: `apt-get install chromium` on Debian) and saves the page once trends have filled a
 * little. Not part of the tests; run it when the view's look changes:
 *   npm run docs:ward-screenshot [-- OUT.png]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startStack } from './stack';
import { resolveScenario } from './sim';

async function main(): Promise<void> {
  const out = resolve(process.argv[2] ?? join(__dirname, '..', '..', 'docs', 'images', 'ward-view.png'));
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  const data = mkdtempSync(join(tmpdir(), 'mcps-ward-shot-'));
  const stack = await startStack({ data, editorPort: 0, mqttPort: 0, nodePort: 0, scenario: resolveScenario('ward-20') });
  try {
    const login = JSON.parse(readFileSync(stack.editorCredentialsPath, 'utf8')) as { username: string; password: string };
    const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 }, deviceScaleFactor: 1 });
      await page.goto(`${stack.editorUrl}ward`);
      await page.fill('#user', login.username);
      await page.fill('#pass', login.password);
      await page.click('#login button');
      await page.waitForFunction(() => document.querySelectorAll('section[data-bed]').length >= 20, undefined, { timeout: 60_000 });
      await new Promise((r) => setTimeout(r, Number(process.env.MCPS_WARD_SHOT_WAIT_S ?? 45) * 1000));
      await page.screenshot({ path: out });
      process.stdout.write(`wrote ${out}\n`);
    } finally {
      await browser.close();
    }
  } finally {
    await stack.stop();
    rmSync(data, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`ward-screenshot: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
