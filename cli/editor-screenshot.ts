/**
 * Takes the screenshot of the default gateway flow in docs/nodes.md: runs the local stack (with its
 * simulated devices, so the nodes show live status), logs in to the Node-RED editor in headless
 * Chromium (playwright-core driving the system's chromium: `apt-get install chromium` on Debian)
 * and saves the canvas. Not part of the tests; run it when the flow or the nodes' look change:
 *   npm run docs:screenshot [-- OUT.png]
 */
import { join, resolve } from 'node:path';
import { runScreenshot, screenshotOfStack } from './stack-screenshot';

runScreenshot('editor-screenshot', () =>
  screenshotOfStack({
    out: resolve(process.argv[2] ?? join(__dirname, '..', '..', 'docs', 'images', 'editor-default-flow.png')),
    stack: { editorPort: 0, mqttPort: 0, nodePort: 0, mqttRatePerS: 2 },
    viewport: { width: 1240, height: 470 },
    shoot: async ({ page, editorUrl, login }) => {
      await page.goto(editorUrl);
      await page.fill('#node-dialog-login-username', login.username);
      await page.fill('#node-dialog-login-password', login.password);
      await page.click('#node-dialog-login-submit');
      await page.waitForSelector('.red-ui-flow-node', { timeout: 30_000 });
      // The palette filtered to our category, the sidebar closed so the whole flow shows.
      await page.locator('#red-ui-palette-search input').pressSequentially('mcps', { delay: 30 });
      await page.evaluate(() => {
        const red = (globalThis as unknown as { RED: { menu: { setSelected(id: string, on: boolean): void } } }).RED;
        red.menu.setSelected('menu-item-sidebar', false);
      });
      // Let batches seal and anchor so the statuses show real counts.
      await new Promise((r) => setTimeout(r, 8000));
    },
  }),
);
