/**
 * The common part of the docs' screenshot scripts (editor-screenshot, ward-screenshot): runs the local
 * stack in a temporary data directory, opens headless Chromium (playwright-core driving the system's
 * chromium, `apt-get install chromium` on Debian; CHROMIUM_PATH overrides), lets `shoot` sign in and
 * arrange the page, saves the screenshot to `out` and stops everything. Not part of the tests.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startStack, type StackOptions } from './stack';

export interface ShotContext {
  page: Page;
  editorUrl: string;
  login: { username: string; password: string };
}

export async function screenshotOfStack(o: {
  out: string;
  stack: Omit<StackOptions, 'data'>;
  viewport: { width: number; height: number };
  shoot: (c: ShotContext) => Promise<void>;
}): Promise<void> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  const data = mkdtempSync(join(tmpdir(), 'mcps-shot-'));
  const stack = await startStack({ ...o.stack, data });
  try {
    const login = JSON.parse(readFileSync(stack.editorCredentialsPath, 'utf8')) as { username: string; password: string };
    const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: o.viewport, deviceScaleFactor: 1 });
      await o.shoot({ page, editorUrl: stack.editorUrl, login });
      await page.screenshot({ path: o.out });
      process.stdout.write(`wrote ${o.out}\n`);
    } finally {
      await browser.close();
    }
  } finally {
    await stack.stop();
    rmSync(data, { recursive: true, force: true });
  }
}

/** Runs a screenshot script's main, reporting a failure as `name: message` with exit code 1. */
export function runScreenshot(name: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
