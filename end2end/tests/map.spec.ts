import { expect, test, type Page } from '@playwright/test';
import * as path from 'node:path';

const url = () => process.env.TRANSIT_URL ?? '';
const fleet = () => Number(process.env.TRANSIT_FLEET ?? '0');
const artifacts = path.join(__dirname, '..', 'artifacts');

type MarkerInfo = { id: string; lat: number; lng: number; x: number; y: number };

/** Every vehicle marker on the map, read through the `window.transitMap` debugging handle. */
async function markers(page: Page): Promise<MarkerInfo[]> {
  return page.evaluate(() => {
    const map = (window as any).transitMap;
    const found: MarkerInfo[] = [];
    map.eachLayer((layer: any) => {
      const id = layer.options && layer.options.vehicleId;
      if (!id) return;
      const at = layer.getLatLng();
      const point = map.latLngToContainerPoint(at);
      found.push({ id, lat: at.lat, lng: at.lng, x: point.x, y: point.y });
    });
    return found;
  });
}

/** Opens the map with tiles blocked (the map must work without them) and page errors caught. */
async function openMap(page: Page): Promise<string[]> {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.route(/tile\.openstreetmap\.org/, (route) => route.abort());
  await page.goto(url());
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'live');
  return errors;
}

test('the map shows the simulated fleet and says it is live', async ({ page }) => {
  const errors = await openMap(page);
  const status = page.getByTestId('status');
  await expect(status).toContainText('Live');
  // Simulated data is never passed off as live HSL data.
  await expect(page.getByTestId('notice')).toContainText('Simulated vehicles');

  // A few vehicles may be between their first fix and a null-coordinate message; nearly
  // the whole fleet must be there, and never more than the fleet.
  await expect
    .poll(async () => Number(await status.getAttribute('data-count')), { timeout: 15_000 })
    .toBeGreaterThanOrEqual(Math.floor(fleet() * 0.95));
  const shown = await markers(page);
  expect(shown.length).toBeLessThanOrEqual(fleet());
  expect(new Set(shown.map((m) => m.id)).size).toBe(shown.length);
  expect(Number(await status.getAttribute('data-count'))).toBe(shown.length);
  for (const m of shown) {
    expect(m.lat).toBeGreaterThan(59.9);
    expect(m.lat).toBeLessThan(60.5);
    expect(m.lng).toBeGreaterThan(24.4);
    expect(m.lng).toBeLessThan(25.4);
  }
  await page.screenshot({ path: path.join(artifacts, 'map.png') });
  expect(errors).toEqual([]);
});

test('vehicles move on the map within a few seconds', async ({ page }) => {
  await openMap(page);
  await expect.poll(async () => (await markers(page)).length).toBeGreaterThan(0);
  const before = new Map((await markers(page)).map((m) => [m.id, `${m.lat},${m.lng}`]));
  await expect
    .poll(
      async () =>
        (await markers(page)).filter((m) => before.has(m.id) && before.get(m.id) !== `${m.lat},${m.lng}`).length,
      { timeout: 5_000 },
    )
    .toBeGreaterThan(0);
});

test('clicking a vehicle shows the position the server reports for it', async ({ page }) => {
  const errors = await openMap(page);
  await expect.poll(async () => (await markers(page)).length).toBeGreaterThan(fleet() / 2);

  // A marker well inside the map, clear of the panel's corner and of other markers, so the
  // click lands on it and nothing else.
  const box = (await page.locator('#map').boundingBox())!;
  const all = await markers(page);
  const target = all.find(
    (m) =>
      m.x > 40 && m.y > 40 && m.x < box.width - 420 && m.y < box.height - 40 &&
      all.every((o) => o.id === m.id || Math.hypot(o.x - m.x, o.y - m.y) > 14),
  );
  expect(target, 'an isolated marker to click').toBeDefined();
  const fresh = (await markers(page)).find((m) => m.id === target!.id)!;

  const answer = page.waitForResponse((r) => r.url().endsWith('/api/vehicle'));
  await page.mouse.click(box.x + fresh.x, box.y + fresh.y);
  const response = await answer;
  expect(response.status()).toBe(200);
  const reported = await response.json();

  const panel = page.getByTestId('vehicle-panel');
  await expect(panel).toBeVisible();
  const field = (name: string) => panel.locator(`dd[data-field="${name}"]`);
  const p = reported.position;
  expect(p.id).toBe(target!.id);
  await expect(field('id')).toHaveText(target!.id);
  await expect(panel.locator('dl')).toHaveAttribute('data-vehicle', target!.id);
  await expect(panel.locator('dl')).toHaveAttribute('data-timestamp-ms', String(p.timestamp_ms));
  await expect(field('line')).toHaveText(p.line ?? p.route);
  await expect(field('headsign')).toHaveText(p.headsign);
  await expect(field('mode')).toHaveText(p.mode);
  await expect(field('operator')).toContainText(`(${p.operator})`);
  await expect(field('source')).toHaveText('in-memory table');
  if (p.speed_mps === null) {
    await expect(field('speed')).toHaveText('unknown');
  } else {
    const kmh = Number((await field('speed').textContent())!.replace(' km/h', ''));
    expect(Math.abs(kmh - p.speed_mps * 3.6)).toBeLessThanOrEqual(0.5);
  }
  await expect(field('heading')).toHaveText(new RegExp(`^${p.heading}° `));
  await expect(field('delay')).toHaveText(p.delay_s === 0 ? 'on time' : new RegExp(p.delay_s > 0 ? 'late$' : 'early$'));
  await expect(field('timestamp')).toHaveText(/^\d\d:\d\d:\d\d Helsinki$/);
  await expect(field('age')).toHaveText(/ago$|^just now$/);

  await page.screenshot({ path: path.join(artifacts, 'vehicle-panel.png') });

  // The open panel follows the vehicle: it asks again and shows the newer position.
  const again = await page.waitForResponse((r) => r.url().endsWith('/api/vehicle'), { timeout: 10_000 });
  const newer = (await again.json()).position;
  expect(newer.id).toBe(p.id);
  expect(newer.timestamp_ms).toBeGreaterThan(p.timestamp_ms);
  await expect(panel.locator('dl')).toHaveAttribute('data-timestamp-ms', String(newer.timestamp_ms));
  expect(errors).toEqual([]);
});
