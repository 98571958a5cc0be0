import { defineConfig } from '@playwright/test';
import { chromium } from './chromium';

// Browser tests drive Debian's Chromium (`npx playwright install` cannot download browsers
// on our machines) against the real server, started once by global-setup.ts.
export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  globalSetup: './global-setup.ts',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  // The tests share one server and one simulated fleet; running them one at a time keeps
  // the two CPU cores for the server and the browser.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  reporter: [['list']],
  use: {
    browserName: 'chromium',
    viewport: { width: 1280, height: 800 },
    trace: 'retain-on-failure',
    launchOptions: chromium,
  },
});
