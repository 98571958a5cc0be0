import { defineConfig } from '@playwright/test';
import { chromium } from './chromium';

// The browser benchmark (`scripts/bench-browser.sh`), not a test: one worker, so the two
// builds compared never share the cores with each other.
export default defineConfig({
  testDir: './bench',
  testMatch: '*.bench.ts',
  outputDir: './test-results/bench',
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: { browserName: 'chromium', launchOptions: chromium },
});
