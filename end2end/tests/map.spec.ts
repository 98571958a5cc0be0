import { expect, test, type Page } from '@playwright/test';
import * as path from 'node:path';
import { readHeader } from '../wire';
import { clickVehicle, drawn, fleet, isolatedVehicle, openMap, paintedAt, url, vehicles } from './vehicles';

const artifacts = path.join(__dirname, '..', 'artifacts');

test('the map shows the simulated fleet and never calls it live', async ({ page }) => {
  const errors = await openMap(page);
  const status = page.getByTestId('status');
  // Connected and flowing, but simulated data is never passed off as live HSL data.
  await expect(status).toHaveAttribute('data-state', 'live');
  await expect(status.getByRole('status')).toHaveText(/^Simulated · \d+ vehicles$/);
  await expect(page.getByTestId('notice')).toContainText('Simulated vehicles');

  // A few vehicles may be between their first fix and a null-coordinate message; nearly
  // the whole fleet must be there, and never more than the fleet.
  await expect
    .poll(async () => Number(await status.getAttribute('data-count')), { timeout: 15_000 })
    .toBeGreaterThanOrEqual(Math.floor(fleet() * 0.95));
  const shown = await vehicles(page);
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

test('map tiles are asked for only once the first vehicles are painted, or after a second without any', async ({ page }) => {
  // On a fresh page the tiles' images would compete with the snapshot for the main thread
  // (app/src/browser.rs). Noted when Leaflet puts the first tile into the page.
  await page.addInitScript(() => {
    new MutationObserver((changes, observer) => {
      if (!changes.some((c) => [...c.addedNodes].some((n) => n instanceof Element && n.matches('.leaflet-tile')))) return;
      (window as any).__vehiclesBeforeTiles = performance.getEntriesByName('transit-stream:first-vehicle').length > 0;
      observer.disconnect();
    }).observe(document, { childList: true, subtree: true });
  });
  await page.route(/tile\.openstreetmap\.org/, (route) => route.abort());
  await page.goto(url());
  await expect(page.locator('.leaflet-tile').first()).toBeAttached();
  expect(await page.evaluate(() => (window as any).__vehiclesBeforeTiles)).toBe(true);

  // A server that sends nothing: the map still shows where it is.
  const quiet = await page.context().newPage();
  await quiet.routeWebSocket(/\/ws/, () => undefined);
  await quiet.route(/tile\.openstreetmap\.org/, (route) => route.abort());
  await quiet.goto(url());
  await expect(quiet.locator('.leaflet-tile').first()).toBeAttached();
  expect(await quiet.evaluate(() => performance.getEntriesByName('transit-stream:first-vehicle').length)).toBe(0);
});

test('a page whose map code never starts lets its early socket go after a few seconds of frames', async ({ page }) => {
  // The wasm is never answered: the socket the page's head opened keeps frames for a map
  // that never comes, and must not do so for as long as the page stays open.
  await page.route(/\.wasm$/, () => undefined);
  await page.route(/tile\.openstreetmap\.org/, (route) => route.abort());
  let frames = 0;
  const closed = new Promise<void>((resolve) =>
    page.on('websocket', (socket) => {
      socket.on('framereceived', () => (frames += 1));
      socket.on('close', () => resolve());
    }),
  );
  await page.goto(url());
  await closed;
  // It gives up on the frame after the 32 it keeps (app/src/early_socket.rs), and leaves
  // nothing behind for a map that might start later.
  expect(frames).toBeGreaterThan(32);
  expect(await page.evaluate(() => '__transitEarlySocket' in window)).toBe(false);
});

test('vehicles move on the map within a few seconds', async ({ page }) => {
  await openMap(page);
  await expect.poll(async () => (await vehicles(page)).length).toBeGreaterThan(0);
  const before = new Map((await vehicles(page)).map((m) => [m.id, `${m.lat},${m.lng}`]));
  await expect
    .poll(
      async () =>
        (await vehicles(page)).filter((m) => before.has(m.id) && before.get(m.id) !== `${m.lat},${m.lng}`).length,
      { timeout: 5_000 },
    )
    .toBeGreaterThan(0);
});

test('clicking a vehicle shows the position the server reports for it', async ({ page }) => {
  const errors = await openMap(page);
  await expect.poll(async () => (await vehicles(page)).length).toBeGreaterThan(fleet() / 2);

  const target = await isolatedVehicle(page);
  expect(target, 'an isolated vehicle to click').toBeDefined();

  const answer = page.waitForResponse((r) => r.url().endsWith('/api/vehicle'));
  await clickVehicle(page, target!.id);
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

test('vehicles are drawn exactly where Leaflet places their positions', async ({ page }) => {
  await openMap(page);
  await expect.poll(async () => (await vehicles(page)).length).toBeGreaterThan(fleet() / 2);
  // Our projection against Leaflet's own, for every vehicle, after panning and zooming.
  for (const [lat, lng, zoom] of [[60.17, 24.94, 12], [60.2, 25.0, 15.5], [60.25, 24.8, 10]]) {
    await page.evaluate(([lat, lng, zoom]) => (window as any).transitMap.setView([lat, lng], zoom, { animate: false }), [lat, lng, zoom]);
    const offsets = await page.evaluate(() => {
      const map = (window as any).transitMap;
      return ((window as any).transitVehicles() as any[]).map((v) => {
        const p = map.latLngToContainerPoint([v.lat, v.lng]);
        return Math.hypot(p.x - v.x, p.y - v.y);
      });
    });
    expect(offsets.length).toBeGreaterThan(0);
    // Leaflet rounds each point to whole pixels; we keep fractions so that glides are
    // smooth: at most half a pixel per axis apart.
    expect(Math.max(...offsets)).toBeLessThanOrEqual(Math.SQRT1_2 + 1e-9);
  }
});

test('vehicles glide between reports instead of jumping, and are painted on the canvas', async ({ page }) => {
  await openMap(page);
  await expect.poll(async () => (await vehicles(page)).filter((v) => v.gliding).length).toBeGreaterThan(0);
  // Follow gliding vehicles over animation frames for one second: a vehicle that jumped
  // would show one or two positions; a glide shows many, each a small step.
  const tracks: Record<string, [number, number][]> = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const tracks: Record<string, [number, number][]> = {};
        const started = performance.now();
        const sample = () => {
          for (const v of (window as any).transitVehicles()) {
            (tracks[v.id] ??= []).push([v.x, v.y]);
          }
          if (performance.now() - started < 1000) requestAnimationFrame(sample);
          else resolve(tracks);
        };
        requestAnimationFrame(sample);
      }),
  );
  const moving = Object.values(tracks).filter((t) => new Set(t.map(([x, y]) => `${x},${y}`)).size > 1);
  expect(moving.length).toBeGreaterThan(0);
  const distinct = (t: [number, number][]) => new Set(t.map(([x, y]) => `${x.toFixed(3)},${y.toFixed(3)}`)).size;
  const smooth = moving.filter((t) => distinct(t) >= 10);
  expect(smooth.length, 'vehicles moving through many intermediate positions').toBeGreaterThan(moving.length / 2);

  // And the canvas really shows them: the pixel under an isolated vehicle is painted, opaque
  // (the faint network sketch under it is not the vehicle).
  const target = await isolatedVehicle(page);
  expect(target).toBeDefined();
  expect(await paintedAt(page, target!.id)).toMatch(OPAQUE);
});

test('zoomed out, the map asks for animation frames only when they can show something new', async ({ page }) => {
  // Counts the animation frames the page asks for; this test keeps the browser's own.
  await page.addInitScript(() => {
    const own = window.requestAnimationFrame.bind(window);
    const counted = { asked: 0, own };
    (window as any).__frames = counted;
    window.requestAnimationFrame = (callback) => {
      counted.asked++;
      return own(callback);
    };
  });
  // At zoom 10 a tram crosses a pixel in seconds, while deltas arrive four times a second.
  await openMap(page, '?at=60.2,24.95,10');
  await expect.poll(async () => (await vehicles(page)).filter((v) => v.gliding).length).toBeGreaterThan(0);
  const { asked, shown } = await page.evaluate(
    () =>
      new Promise<{ asked: number; shown: number }>((resolve) => {
        const counted = (window as any).__frames;
        const [from, started] = [counted.asked, performance.now()];
        let shown = 0;
        const tick = () => {
          shown++;
          if (performance.now() - started < 2000) counted.own(tick);
          else resolve({ asked: counted.asked - from, shown });
        };
        counted.own(tick);
      }),
  );
  expect(shown, 'the display ran').toBeGreaterThan(30);
  expect(asked, 'frames asked for out of the display\'s').toBeLessThan(shown / 3);
  // And a moved map is painted at once, not when the glides would next need it.
  await page.evaluate(() => (window as any).transitMap.setView([60.1699, 24.9384], 12, { animate: false }));
  await drawn(page);
  const target = await isolatedVehicle(page);
  expect(target).toBeDefined();
  expect(await paintedAt(page, target!.id)).toMatch(OPAQUE);
});

/** An opaque colour as `paintedAt` gives it: a vehicle itself, not the sketch under it. */
const OPAQUE = /^#[0-9a-f]{6}$/;

/** How each mode and each delay class is painted (`app/src/palette.rs`). */
const MODE_COLOURS: Record<string, string> = {
  bus: '#007ac9', tram: '#00985f', train: '#8c4799', metro: '#ff6319', ferry: '#00b9e4',
};
const delayColour = (d: number | null) =>
  d === null ? '#8a8f94' : d < -60 ? '#cc79a7' : d < 180 ? '#009e73' : d < 600 ? '#e69f00' : '#d55e00';

test('the legend explains the shapes, and the delay switch colours vehicles by punctuality', async ({ page }) => {
  await openMap(page);
  const legend = page.getByTestId('legend');
  for (const name of ['Bus', 'Tram', 'Metro', 'Train', 'Ferry']) {
    await expect(legend.getByRole('listitem').filter({ hasText: name })).toBeVisible();
  }
  await expect.poll(async () => (await vehicles(page)).length).toBeGreaterThan(fleet() / 2);
  const target = (await isolatedVehicle(page))!;
  await expect.poll(() => paintedAt(page, target.id)).toBe(MODE_COLOURS[target.mode]);

  const delay = legend.getByRole('radio', { name: 'Delay' });
  await delay.click();
  await expect(delay).toHaveAttribute('aria-checked', 'true');
  // The thresholds are stated, not implied.
  const classes = page.getByTestId('delay-legend');
  await expect(classes).toContainText('Early (over 1 min)');
  await expect(classes).toContainText('Late (3-10 min)');
  await expect(classes).toContainText('Very late (over 10 min)');
  await expect
    .poll(async () => {
      const now = (await vehicles(page)).find((v) => v.id === target.id)!;
      return (await paintedAt(page, target.id)) === delayColour(now.delay);
    })
    .toBe(true);
});

test('zoomed in, a vehicle is its mode\'s shape in its colour with its line number on it', async ({ page }) => {
  await openMap(page);
  const target = (await isolatedVehicle(page))!;
  expect(target.line).toBeTruthy();
  /** The colour `above` px above the vehicle's point, and how many pixels within 3.5 px of
   * the point are white (the line number; the white edge of the smallest shape lies
   * further out). */
  const look = async (above: number) => ({
    colour: await paintedAt(page, target.id, above),
    white: await page.evaluate((id) => {
      const v = ((window as any).transitVehicles() as any[]).find((v) => v.id === id);
      const canvas = document.querySelector('canvas.vehicle-canvas') as HTMLCanvasElement;
      const ratio = canvas.width / canvas.clientWidth;
      const side = Math.round(7 * ratio);
      const around = canvas
        .getContext('2d')!
        .getImageData(Math.round((v.x - 3.5) * ratio), Math.round((v.y - 3.5) * ratio), side, side).data;
      let white = 0;
      for (let i = 0; i < around.length; i += 4) {
        if (around[i] > 230 && around[i + 1] > 230 && around[i + 2] > 230 && around[i + 3] > 230) white++;
      }
      return white;
    }, target.id),
  });
  const zoomTo = (zoom: number) =>
    page.evaluate(
      ([lat, lng, zoom]) => (window as any).transitMap.setView([lat, lng], zoom, { animate: false }),
      [target.lat, target.lng, zoom] as const,
    );

  // Shapes without labels first, then with them: the line number is drawn from zoom 14.
  await zoomTo(13);
  await expect.poll(() => look(0)).toEqual({ colour: MODE_COLOURS[target.mode], white: 0 });
  // 7 px above the point: inside every mode's outline at this zoom, clear of the label.
  await zoomTo(15);
  await expect.poll(async () => (await look(7)).colour).toBe(MODE_COLOURS[target.mode]);
  expect((await look(7)).white).toBeGreaterThan(2);

  // Coloured by delay, the same vehicle is drawn anew in its delay class's colour.
  await page.getByTestId('legend').getByRole('radio', { name: 'Delay' }).click();
  await expect
    .poll(async () => {
      const now = (await vehicles(page)).find((v) => v.id === target.id)!;
      return (await look(7)).colour === delayColour(now.delay);
    })
    .toBe(true);
});

test('the status says how many updates arrive per second and where they come from', async ({ page }) => {
  // Count the position updates the page receives, independently of the page.
  const arrivals: [number, number][] = [];
  const texts: string[] = [];
  page.on('websocket', (socket) =>
    socket.on('framereceived', ({ payload }) => {
      if (typeof payload === 'string') return void texts.push(payload);
      const frame = readHeader(payload);
      if (frame.kind === 'delta') arrivals.push([Date.now(), frame.vehicles]);
    }),
  );
  await openMap(page);
  await expect(page.getByTestId('source')).toHaveText('simulator');
  await expect(page.getByTestId('rate')).toHaveText(/^\d+ updates\/s$/);
  await page.waitForTimeout(6_000); // let the five-second window fill with real arrivals
  const shown = Number(await page.getByTestId('status').getAttribute('data-rate'));
  const now = Date.now();
  const counted = arrivals.filter(([t]) => now - t < 5_000).reduce((sum, [, n]) => sum + n, 0) / 5;
  expect(counted).toBeGreaterThan(0);
  expect(Math.abs(shown - counted) / counted).toBeLessThan(0.3);
  expect(texts, '/ws frames are binary').toEqual([]);
});

test('without map tiles, the network is sketched under the vehicles', async ({ page }) => {
  // openMap blocks the tile server, as on a machine without internet.
  await openMap(page);
  // Points along metro M1's eastern end (the server's network sketch), where few vehicles
  // cross it.
  await page.evaluate(() => (window as any).transitMap.setView([60.209, 25.113], 13, { animate: false }));
  await drawn(page);
  const samples = await page.evaluate(() => {
    const network = JSON.parse(document.getElementById('transit-network')!.textContent!);
    const m1 = network.find((l: any) => l.line === 'M1').path as [number, number][];
    const map = (window as any).transitMap;
    const canvas = document.querySelector('canvas.vehicle-canvas') as HTMLCanvasElement;
    const ratio = canvas.width / canvas.clientWidth;
    const context = canvas.getContext('2d')!;
    const vehicles = (window as any).transitVehicles() as { x: number; y: number }[];
    // Other lines of the sketch, as pixel segments: where one crosses M1 the colours mix.
    const others = network
      .filter((l: any) => l.line !== 'M1' && l.line !== 'M2')
      .flatMap((l: any) => {
        const points = (l.path as [number, number][]).map((q) => map.latLngToContainerPoint(q));
        return points.slice(1).map((q: any, i: number) => [points[i], q]);
      });
    const fromSegment = (p: any, [a, b]: any[]) => {
      const [dx, dy] = [b.x - a.x, b.y - a.y];
      const t = Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / (dx * dx + dy * dy || 1)));
      return Math.hypot(a.x + t * dx - p.x, a.y + t * dy - p.y);
    };
    const out: number[][] = [];
    for (let i = 1; i < 40; i++) {
      const t = i / 40;
      const [a, b] = [m1[0], m1[1]];
      const p = map.latLngToContainerPoint([a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]);
      // Only where no vehicle is drawn over the line, and no other line crosses it.
      if (vehicles.some((v) => Math.hypot(v.x - p.x, v.y - p.y) < 12)) continue;
      if (others.some((segment: any[]) => fromSegment(p, segment) < 8)) continue;
      out.push([...context.getImageData(Math.round(p.x * ratio), Math.round(p.y * ratio), 1, 1).data]);
    }
    return out;
  });
  // Metro orange (#ff6319), faint: 35 % opacity, more where M1 and M2 share the track,
  // never opaque.
  const faintOrange = ([r, g, b, a]: number[]) =>
    r >= 0xf0 && Math.abs(g - 0x63) <= 8 && b <= 0x28 && a > 60 && a < 200;
  expect(samples.length).toBeGreaterThanOrEqual(5);
  expect(samples.filter((s) => !faintOrange(s))).toEqual([]);
});
