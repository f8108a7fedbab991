/**
 * Takes the ward view screenshot in docs/ward-view.md and the README: runs the local stack with the
 * 20-bed ward scenario, signs in to /ward in headless Chromium (playwright-core driving the system's
 * chromium: `apt-get install chromium` on Debian) and saves the page once trends have filled a
 * little. Not part of the tests; run it when the view's look changes:
 *   npm run docs:ward-screenshot [-- OUT.png]
 */
import { join, resolve } from 'node:path';
import { resolveScenario } from './sim';
import { runScreenshot, screenshotOfStack } from './stack-screenshot';

runScreenshot('ward-screenshot', () =>
  screenshotOfStack({
    out: resolve(process.argv[2] ?? join(__dirname, '..', '..', 'docs', 'images', 'ward-view.png')),
    stack: { editorPort: 0, mqttPort: 0, nodePort: 0, scenario: resolveScenario('ward-20') },
    viewport: { width: 1400, height: 900 },
    shoot: async ({ page, editorUrl, login }) => {
      await page.goto(`${editorUrl}ward`);
      await page.fill('#user', login.username);
      await page.fill('#pass', login.password);
      await page.click('#login button');
      await page.waitForFunction(() => document.querySelectorAll('section[data-bed]').length >= 20, undefined, { timeout: 60_000 });
      await new Promise((r) => setTimeout(r, Number(process.env.MCPS_WARD_SHOT_WAIT_S ?? 45) * 1000));
    },
  }),
);
