import { expect, test } from '@playwright/test';
import { startFakeKsqldb, startServer, type Running } from '../server';
import { clickVehicle, isolatedVehicle } from './vehicles';

// ksqlDB mode against the fake ksqlDB (a protocol fake built from ksqlDB's documentation,
// not ksqlDB, which cannot run on our machines), its table fed by the simulator.
test('in ksqlDB mode the map follows the push query and a click runs a pull query', async ({ page }) => {
  const fleet = 120;
  const fake = await startFakeKsqldb(fleet);
  let server: Running | undefined;
  try {
    server = await startServer({ args: ['--ksqldb-url', fake.url] });
    await page.route(/tile\.openstreetmap\.org/, (route) => route.abort());
    await page.goto(server.url);
    const status = page.getByTestId('status');
    await expect(status).toHaveAttribute('data-state', 'live');
    await expect(status.getByRole('status')).toHaveText(/^Live · \d+ vehicles$/);
    await expect(page.getByTestId('source')).toHaveText('ksqlDB');
    await expect
      .poll(async () => Number(await status.getAttribute('data-count')))
      .toBeGreaterThanOrEqual(Math.floor(fleet * 0.9));

    const target = await isolatedVehicle(page);
    expect(target, 'an isolated vehicle to click').toBeDefined();

    const answer = page.waitForResponse((r) => r.url().endsWith('/api/vehicle'));
    await clickVehicle(page, target!.id);
    const reported = await (await answer).json();
    expect(reported.source).toBe('ksqldb');
    expect(reported.position.id).toBe(target!.id);
    const panel = page.getByTestId('vehicle-panel');
    await expect(panel.locator('dd[data-field="id"]')).toHaveText(target!.id);
    await expect(panel.locator('dd[data-field="source"]')).toHaveText('ksqlDB pull query');

    // ksqlDB goes away: the page says the data source is reconnecting, not a dead map.
    await fake.stop();
    await expect(status).toHaveAttribute('data-state', 'stalled');
    await expect(status).toContainText('Data source reconnecting');
  } finally {
    await server?.stop();
    await fake.stop().catch(() => undefined);
  }
});
