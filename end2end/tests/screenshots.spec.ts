import { expect, test, type Page } from '@playwright/test';
import * as path from 'node:path';
import { root, startServer, type Running } from '../server';
import { drawn, expectedInView, listed, vehicles } from './vehicles';

// The README's pictures, taken from a deterministic replay: the bundled recording played
// as fast as possible (so every vehicle stands at its last recorded position) with its
// times moved to now (so nothing looks stale). Tiles are blocked, as on our machines: the
// network sketch is the background.
const shots = path.join(root, 'docs', 'screenshots');
const recording = path.join(root, 'data', 'replay', 'simulator-200-vehicles-60s.ndjson.gz');
const VEHICLES = 200;

let server: Running;

test.beforeAll(async () => {
  server = await startServer({
    source: 'replay',
    args: ['--replay-file', recording, '--replay-speed', '0', '--replay-retime'],
  });
});

test.afterAll(async () => {
  await server.stop();
});

/** Opens the map once every vehicle of the replay is in (all of them, or all around the
 * view when it is zoomed in), so every picture shows the same fleet. */
async function open(page: Page, query = ''): Promise<void> {
  await page.route(/tile\.openstreetmap\.org/, (route) => route.abort());
  await expect.poll(async () => (await listed(page, server.url)).length).toBe(VEHICLES);
  await page.goto(server.url + query);
  await expect(page.getByTestId('source')).toHaveText('replay');
  const nearby = await expectedInView(page, await listed(page, server.url));
  const count = nearby?.length ?? VEHICLES;
  await expect(page.getByTestId('status')).toHaveAttribute('data-count', String(count));
  await expect(page.getByTestId('status').getByRole('status')).toHaveText(
    `Replay · ${count} vehicles${nearby ? ' in this area' : ''}`,
  );
  await drawn(page);
}

/** The first tram by id: the same vehicle on every run. */
async function aTram(page: Page): Promise<string> {
  const trams = (await vehicles(page)).filter((v) => v.mode === 'tram').map((v) => v.id).sort();
  expect(trams.length).toBeGreaterThan(0);
  return trams[0];
}

test('screenshot: the whole city', async ({ page }) => {
  await open(page);
  await page.screenshot({ path: path.join(shots, 'city.png') });
});

test('screenshot: a followed tram, close up, with its panel', async ({ page }) => {
  await open(page);
  const tram = await aTram(page);
  await page.goto(`${server.url}?v=${tram}&follow=1&at=60.17,24.94,15`);
  await expect(page.getByTestId('vehicle-panel').locator('dd[data-field="id"]')).toHaveText(tram);
  await expect(page.getByTestId('follow')).toHaveAttribute('aria-pressed', 'true');
  await drawn(page);
  await page.screenshot({ path: path.join(shots, 'follow.png') });
});

test('screenshot: coloured by delay, one line searched', async ({ page }) => {
  await open(page, '?by=delay&at=60.19,24.95,13');
  const busiest = await page.evaluate(() => {
    const counts = new Map<string, number>();
    for (const v of (window as any).transitVehicles()) if (v.line) counts.set(v.line, (counts.get(v.line) ?? 0) + 1);
    return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0][0];
  });
  await page.getByTestId('finder').fill(busiest);
  await expect(page.getByTestId('finder-count')).toBeVisible();
  await drawn(page);
  await page.screenshot({ path: path.join(shots, 'delay.png') });
});

test.describe('on a phone', () => {
  test.use({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });

  test('screenshot: the panel as a bottom sheet', async ({ page }) => {
    await open(page, '?at=60.175,24.94,14');
    const tram = await aTram(page);
    await page.goto(`${server.url}?v=${tram}&at=60.175,24.94,14`);
    await expect(page.getByTestId('vehicle-panel')).toBeVisible();
    await drawn(page);
    await page.screenshot({ path: path.join(shots, 'phone.png') });
  });
});
