import { expect, test } from '@playwright/test';
import { startFakeKsqldb, startServer, type Running } from '../server';

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
    await expect
      .poll(async () => Number(await status.getAttribute('data-count')))
      .toBeGreaterThanOrEqual(Math.floor(fleet * 0.9));

    const box = (await page.locator('#map').boundingBox())!;
    const target = await page.evaluate(({ width, height }) => {
      const map = (window as any).transitMap;
      const points: { id: string; x: number; y: number }[] = [];
      map.eachLayer((layer: any) => {
        if (!layer.options || !layer.options.vehicleId) return;
        const p = map.latLngToContainerPoint(layer.getLatLng());
        points.push({ id: layer.options.vehicleId, x: p.x, y: p.y });
      });
      return points.find(
        (m) =>
          m.x > 40 && m.y > 40 && m.x < width - 420 && m.y < height - 40 &&
          points.every((o) => o.id === m.id || Math.hypot(o.x - m.x, o.y - m.y) > 14),
      );
    }, { width: box.width, height: box.height });
    expect(target, 'an isolated marker to click').toBeDefined();

    const answer = page.waitForResponse((r) => r.url().endsWith('/api/vehicle'));
    await page.mouse.click(box.x + target!.x, box.y + target!.y);
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
