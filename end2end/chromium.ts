import type { LaunchOptions } from '@playwright/test';

/**
 * Debian's Chromium, headless, as the browser tests and the browser benchmark both run it
 * (`npx playwright install` cannot download browsers on our machines).
 */
export const chromium: LaunchOptions = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
};
