import { expect, type Page } from '@playwright/test';

/** The shared server's URL and simulated fleet size (global-setup.ts). */
export const url = () => process.env.TRANSIT_URL ?? '';
export const fleet = () => Number(process.env.TRANSIT_FLEET ?? '0');

/**
 * Opens the map (at `query`, e.g. `?v=...`) with tiles blocked (the map must work without
 * them) and page errors caught; returns the errors seen so far, for a final check.
 */
export async function openMap(page: Page, query = ''): Promise<string[]> {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.route(/tile\.openstreetmap\.org/, (route) => route.abort());
  await page.goto(url() + query);
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'live');
  await expect.poll(async () => (await vehicles(page)).length).toBeGreaterThan(fleet() / 2);
  return errors;
}

/** A vehicle as the map draws it now: its shown position and its point on the map. */
export type Shown = {
  id: string;
  lat: number;
  lng: number;
  x: number;
  y: number;
  gliding: boolean;
  mode: string;
  line: string | null;
  delay: number | null;
};

/** Every vehicle on the map, read through the page's `window.transitVehicles()` handle. */
export async function vehicles(page: Page): Promise<Shown[]> {
  return page.evaluate(() => (window as any).transitVehicles() as Shown[]);
}

/**
 * A vehicle well inside the map, clear of the panel's corner and of other vehicles, so a
 * click on it picks it and nothing else.
 */
export async function isolatedVehicle(page: Page): Promise<Shown | undefined> {
  const box = (await page.locator('#map').boundingBox())!;
  const all = await vehicles(page);
  return all.find(
    (m) =>
      m.x > 40 && m.y > 40 && m.x < box.width - 420 && m.y < box.height - 40 &&
      all.every((o) => o.id === m.id || Math.hypot(o.x - m.x, o.y - m.y) > 24),
  );
}

/** Clicks a vehicle where it is drawn at the moment of the click. */
export async function clickVehicle(page: Page, id: string): Promise<void> {
  const box = (await page.locator('#map').boundingBox())!;
  const now = (await vehicles(page)).find((m) => m.id === id)!;
  await page.mouse.click(box.x + now.x, box.y + now.y);
}

/** The colour painted at a vehicle's point on the vehicle canvas, or `above` CSS pixels
 * above it: `#rrggbb` where it is opaque, as a fresh vehicle's body is, `#rrggbbaa` where
 * it is not (the network sketch under the vehicles is faint, in the same colours). */
export async function paintedAt(page: Page, id: string, above = 0): Promise<string> {
  return page.evaluate(
    ([id, above]) => {
      const v = ((window as any).transitVehicles() as any[]).find((v) => v.id === id);
      const canvas = document.querySelector('canvas.vehicle-canvas') as HTMLCanvasElement;
      const ratio = canvas.width / canvas.clientWidth;
      const [r, g, b, a] = canvas
        .getContext('2d')!
        .getImageData(Math.round(v.x * ratio), Math.round((v.y - above) * ratio), 1, 1).data;
      const hex = (values: number[]) => values.map((c) => c.toString(16).padStart(2, '0')).join('');
      return a === 0 ? 'transparent' : '#' + hex(a === 255 ? [r, g, b] : [r, g, b, a]);
    },
    [id, above] as const,
  );
}

/** Waits until the map has drawn at least one animation frame since now. */
export async function drawn(page: Page): Promise<void> {
  await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
}

/** A vehicle as `/api/vehicles` lists it: the source of truth the map is compared with. */
export type Listed = { id: string; lat: number; lon: number };

/** Every vehicle the server holds, from its HTTP API. */
export async function listed(page: Page, base: string): Promise<Listed[]> {
  const response = await page.request.get(`${base}/api/vehicles`);
  expect(response.ok()).toBe(true);
  const body = (await response.json()) as { vehicles: { position: Listed }[] };
  return body.vehicles.map(({ position: { id, lat, lon } }) => ({ id, lat, lon }));
}

/**
 * Which of `all` a page showing its map's current bounds is sent, or `null` when the view is
 * wide enough for the whole fleet: `app/src/viewport.rs` restated, as the tests' reference
 * (a margin of a quarter of the view on each side, rounded out to cells of 0.01° by 0.02°).
 */
export async function expectedInView(page: Page, all: Listed[]): Promise<string[] | null> {
  const b = await page.evaluate(() => {
    const bounds = (window as any).transitMap.getBounds();
    return { s: bounds.getSouth(), w: bounds.getWest(), n: bounds.getNorth(), e: bounds.getEast() };
  });
  const lat = (v: number) => Math.min(90, Math.max(-90, v));
  const lon = (v: number) => Math.min(180, Math.max(-180, v));
  const [s0, w0, n0, e0] = [lat(b.s), lon(b.w), lat(b.n), lon(b.e)];
  const [latMargin, lonMargin] = [(n0 - s0) * 0.25, (e0 - w0) * 0.25];
  const [s, w, n, e] = [s0 - latMargin, w0 - lonMargin, n0 + latMargin, e0 + lonMargin];
  if (n - s > 0.3 || e - w > 0.6) return null;
  const row = (v: number) => Math.floor(v / 0.01);
  const col = (v: number) => Math.floor(v / 0.02);
  return all
    .filter((v) => row(v.lat) >= row(s) && row(v.lat) <= row(n) && col(v.lon) >= col(w) && col(v.lon) <= col(e))
    .map((v) => v.id)
    .sort();
}

/** The ids of the vehicles on the page, sorted. */
export async function shownIds(page: Page): Promise<string[]> {
  return (await vehicles(page)).map((v) => v.id).sort();
}
