import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ROOT } from './cluster';

// Headless Chromium (Debian's, installed by set-up) on a throwaway profile, with what the tests
// need of it only: pages, and screenshots kept in test-artifacts/ for the notes.
export async function withBrowser<T>(fn: (browser: BrowserContext) => Promise<T>): Promise<T> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.BERTH_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    return await fn(browser);
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const file = path.join(ROOT, 'test-artifacts', `${name}.png`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
