import { expect, test, type Page } from '@playwright/test';
import * as path from 'node:path';
import { root, startServer, type Running } from '../server';
import { expectedInView, listed, shownIds } from './vehicles';

// Viewport subscriptions and the page's first socket, checked against a fleet that comes to
// a stop (the bundled recording replayed at once), so what a page should hold is known
// exactly: the vehicles the API lists inside the cells around its view (`expectedInView`), or
// all of them zoomed out.
const recording = path.join(root, 'data', 'replay', 'simulator-200-vehicles-60s.ndjson.gz');
const VEHICLES = 200;

let server: Running;

test.beforeAll(async ({ request }) => {
  server = await startServer({
    source: 'replay',
    args: ['--replay-file', recording, '--replay-speed', '0', '--replay-retime'],
  });
  await expect
    .poll(async () => ((await (await request.get(`${server.url}/api/vehicles`)).json()).vehicles.length))
    .toBe(VEHICLES);
});

test.afterAll(async () => {
  await server.stop();
});

async function open(page: Page, query: string): Promise<void> {
  await page.route(/tile\.openstreetmap\.org/, (route) => route.abort());
  await page.goto(server.url + query);
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'live');
}

/**
 * Waits until the page holds exactly what its view should be sent, by the server's own
 * listing (asked again each time: the replay may still be moving vehicles); returns that.
 */
async function holdsItsView(page: Page): Promise<string[] | null> {
  let expected: string[] | null = null;
  await expect
    .poll(async () => {
      const all = await listed(page, server.url);
      expected = await expectedInView(page, all);
      return (await shownIds(page)).join(' ') === (expected ?? all.map((v) => v.id).sort()).join(' ');
    })
    .toBe(true);
  return expected;
}

test('zoomed into the centre, the page is sent only the vehicles around its view', async ({ page }) => {
  await open(page, '?at=60.17,24.94,15');
  const nearby = await holdsItsView(page);
  expect(nearby).not.toBeNull();
  expect(nearby!.length).toBeGreaterThan(0);
  expect(nearby!.length).toBeLessThan(VEHICLES / 2);
  await expect(page.getByTestId('status').getByRole('status')).toHaveText(
    `Replay · ${nearby!.length} vehicles in this area`,
  );

  // Panning to other cells brings their vehicles and lets the old ones go.
  await page.evaluate(() => (window as any).transitMap.setView([60.19, 24.96], 15));
  const panned = await holdsItsView(page);
  expect(panned).not.toEqual(nearby);

  // Zooming out gets everything, and the count says so.
  await page.evaluate(() => (window as any).transitMap.setZoom(11));
  expect(await holdsItsView(page)).toBeNull();
  await expect(page.getByTestId('status').getByRole('status')).toHaveText(`Replay · ${VEHICLES} vehicles`);
});

test('searching asks for the whole fleet, since a line runs out of sight', async ({ page }) => {
  await open(page, '?at=60.17,24.94,15');
  const nearby = (await holdsItsView(page))!;
  await page.getByTestId('finder').fill('zzz-no-such-line');
  await expect(page.getByTestId('status')).toHaveAttribute('data-count', String(VEHICLES));
  await expect(page.getByTestId('finder-count')).toHaveText(`0 of ${VEHICLES} vehicles`);
  await page.getByTestId('finder').fill('');
  await expect(page.getByTestId('status')).toHaveAttribute('data-count', String(nearby.length));
});

test('the page opens its socket while the map code loads, and the map starts from what it kept', async ({ page }) => {
  // The map's code is held until the socket has had a frame, and the server's frames are
  // held from then on: the map can show only what the page received before it started.
  let delivering = true;
  let firstFrame!: () => void;
  const framed = new Promise<void>((resolve) => (firstFrame = resolve));
  let sockets = 0;
  let told = 0;
  await page.routeWebSocket(/\/ws/, (socket) => {
    sockets += 1;
    const upstream = socket.connectToServer();
    upstream.onMessage((message) => {
      if (!delivering) return;
      socket.send(message);
      firstFrame();
    });
    socket.onMessage((message) => {
      told += 1;
      upstream.send(message);
    });
  });
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route(/\.wasm$/, async (route) => {
    await held;
    await route.continue();
  });
  const goto = open(page, '');
  await framed;
  delivering = false;
  release();
  await goto;

  await expect(page.getByTestId('status')).toHaveAttribute('data-count', String(VEHICLES));
  expect(sockets).toBe(1);
  // The map tells its view on the socket it took over, as on one it opened.
  await expect.poll(() => told).toBeGreaterThan(0);
});
