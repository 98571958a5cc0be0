import { expect, test, type Page } from '@playwright/test';
import { clickVehicle, drawn, isolatedVehicle, openMap, vehicles } from './vehicles';

/** How many vehicles the filter lets through, as the finder reports it. */
async function shownCount(page: Page): Promise<number> {
  return Number((await page.getByTestId('finder-count').textContent())!.split(' of ')[0]);
}

test('searching a line shows only that line, on the map and in the count', async ({ page }) => {
  await openMap(page);
  const all = await vehicles(page);
  // The busiest line now, so the check is not about one vehicle.
  const byLine = new Map<string, number>();
  for (const v of all) if (v.line) byLine.set(v.line, (byLine.get(v.line) ?? 0) + 1);
  const [line, count] = [...byLine.entries()].sort((a, b) => b[1] - a[1])[0];

  // Type-ahead offers the lines running now.
  const options = await page.locator('#lines-now option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  expect(options).toContain(line);

  await page.getByTestId('finder').fill(line.toLowerCase());
  await expect.poll(() => shownCount(page)).toBeGreaterThanOrEqual(1);
  const expected = (await vehicles(page)).filter((v) => v.line === line).length;
  await expect.poll(() => shownCount(page)).toBe(expected);
  expect(Math.abs(expected - count)).toBeLessThanOrEqual(2);
  // "N of M vehicles": M is everything on the map, as the status counts it.
  await expect
    .poll(async () => {
      const total = await page.getByTestId('status').getAttribute('data-count');
      return (await page.getByTestId('finder-count').textContent())!.endsWith(` of ${total} vehicles`);
    })
    .toBe(true);

  // A vehicle of another line cannot be clicked: it is not drawn.
  const other = (await vehicles(page)).find((v) => v.line !== line)!;
  await page.evaluate(([lat, lng]) => (window as any).transitMap.setView([lat, lng], 15, { animate: false }), [other.lat, other.lng]);
  await drawn(page);
  // Vehicles are painted opaque; only the faint network sketch (no tiles here) may be
  // under a filtered-out one.
  const alphaAt = (id: string) =>
    page.evaluate((id) => {
      const canvas = document.querySelector('canvas.vehicle-canvas') as HTMLCanvasElement;
      const v = ((window as any).transitVehicles() as any[]).find((v) => v.id === id);
      const ratio = canvas.width / canvas.clientWidth;
      return canvas.getContext('2d')!.getImageData(Math.round(v.x * ratio), Math.round(v.y * ratio), 1, 1).data[3];
    }, id);
  expect(await alphaAt(other.id), 'a filtered-out vehicle is not painted').toBeLessThan(255);

  await page.getByRole('button', { name: 'Show all' }).click();
  await drawn(page);
  expect(await alphaAt(other.id), 'shown again, it is painted').toBe(255);
  await expect(page.getByTestId('finder-count')).toBeHidden();
});

test('mode toggles in the legend hide and show a mode at once', async ({ page }) => {
  await openMap(page);
  const buses = (await vehicles(page)).filter((v) => ['bus', 'ubus', 'robot', 'other'].includes(v.mode)).length;
  expect(buses).toBeGreaterThan(0);
  const toggle = page.getByTestId('legend').getByRole('button', { name: 'Bus' });
  await expect(toggle).toHaveAttribute('aria-pressed', 'true');
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-pressed', 'false');
  const total = (await vehicles(page)).length;
  await expect.poll(async () => total - (await shownCount(page))).toBeGreaterThanOrEqual(buses - 5);
  await toggle.click();
  await expect(page.getByTestId('finder-count')).toBeHidden();
});

test('clicking "show only this line" in the panel filters to the vehicle\'s line', async ({ page }) => {
  await openMap(page);
  const target = (await isolatedVehicle(page))!;
  await clickVehicle(page, target.id);
  const only = page.getByTestId('only-line');
  await expect(only).toBeVisible();
  await only.click();
  await expect(page.getByTestId('finder')).toHaveValue(target.line!);
  await expect.poll(() => shownCount(page)).toBeGreaterThanOrEqual(1);
});

test('follow keeps the vehicle in view; panning stops it and offers to follow again', async ({ page }) => {
  await openMap(page);
  const target = (await isolatedVehicle(page))!;
  await clickVehicle(page, target.id);
  await page.getByTestId('follow').click();
  await expect(page.getByTestId('follow')).toHaveAttribute('aria-pressed', 'true');
  const box = (await page.locator('#map').boundingBox())!;
  // Followed: the vehicle sits at the centre of the map as it moves.
  await expect
    .poll(async () => {
      const v = (await vehicles(page)).find((v) => v.id === target.id)!;
      return Math.hypot(v.x - box.width / 2, v.y - box.height / 2);
    })
    .toBeLessThan(2);

  // The rider drags the map away: following stops, and says how to resume.
  await page.mouse.move(box.x + 300, box.y + 400);
  await page.mouse.down();
  await page.mouse.move(box.x + 500, box.y + 500, { steps: 8 });
  await page.mouse.up();
  await expect(page.getByTestId('follow')).toHaveAttribute('aria-pressed', 'false');
  const refollow = page.getByTestId('refollow');
  await expect(refollow).toBeVisible();
  const away = (await vehicles(page)).find((v) => v.id === target.id)!;
  expect(Math.hypot(away.x - box.width / 2, away.y - box.height / 2)).toBeGreaterThan(100);

  await refollow.click();
  await expect(refollow).toBeHidden();
  await expect
    .poll(async () => {
      const v = (await vehicles(page)).find((v) => v.id === target.id)!;
      return Math.hypot(v.x - box.width / 2, v.y - box.height / 2);
    })
    .toBeLessThan(2);
});

test('a deep link opens the same view, and back and forward step through selections', async ({ page, context }) => {
  await openMap(page);
  const all = await vehicles(page);
  const first = (await isolatedVehicle(page))!;
  await clickVehicle(page, first.id);
  await expect(page).toHaveURL(new RegExp(`v=${first.id}`));
  await page.getByRole('radio', { name: 'Delay' }).click();
  await page.getByTestId('legend').getByRole('button', { name: 'Ferry' }).click();
  await page.evaluate(() => (window as any).transitMap.setView([60.18, 24.95], 14, { animate: false }));
  await expect(page).toHaveURL(/at=60\.18000,24\.95000,14/);
  const shared = page.url();
  expect(shared).toContain('by=delay');
  expect(shared).toContain('off=ferry');

  // Someone opens the shared link.
  const other = await context.newPage();
  await openMap(other, new URL(shared).search);
  await expect(other.getByTestId('vehicle-panel').locator('dd[data-field="id"]')).toHaveText(first.id);
  await expect(other.getByRole('radio', { name: 'Delay' })).toHaveAttribute('aria-checked', 'true');
  await expect(other.getByTestId('legend').getByRole('button', { name: 'Ferry' })).toHaveAttribute('aria-pressed', 'false');
  const centre = await other.evaluate(() => {
    const map = (window as any).transitMap;
    return [map.getCenter().lat, map.getCenter().lng, map.getZoom()];
  });
  expect(centre[0]).toBeCloseTo(60.18, 4);
  expect(centre[1]).toBeCloseTo(24.95, 4);
  expect(centre[2]).toBe(14);
  await other.close();

  // Back in the first page: select a second vehicle, then go back and forward.
  await page.evaluate(() => (window as any).transitMap.setView([60.17, 24.94], 12, { animate: false }));
  const second = all.find((v) => v.id !== first.id && v.x > 40 && v.y > 40)!;
  await page.goto(page.url().replace(/v=[^&]+/, `v=${second.id}`));
  await expect(page.getByTestId('vehicle-panel').locator('dd[data-field="id"]')).toHaveText(second.id);
  await page.goBack();
  await expect(page.getByTestId('vehicle-panel').locator('dd[data-field="id"]')).toHaveText(first.id);
  await page.goForward();
  await expect(page.getByTestId('vehicle-panel').locator('dd[data-field="id"]')).toHaveText(second.id);
});

test('history entries follow selections made on the page', async ({ page }) => {
  await openMap(page);
  const first = (await isolatedVehicle(page))!;
  await clickVehicle(page, first.id);
  await expect(page).toHaveURL(new RegExp(`v=${first.id}`));
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('vehicle-panel')).toBeHidden();
  await expect(page).not.toHaveURL(/v=/);
  await page.goBack();
  await expect(page.getByTestId('vehicle-panel').locator('dd[data-field="id"]')).toHaveText(first.id);
});

test('every control is reachable by keyboard with a visible focus', async ({ page }) => {
  await openMap(page);
  const reached: string[] = [];
  for (let i = 0; i < 25; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el || el === document.body) return null;
      const style = getComputedStyle(el);
      const name = el.getAttribute('aria-label') || el.textContent?.trim() || el.getAttribute('placeholder') || el.id;
      return { name, outline: style.outlineStyle !== 'none' && style.outlineWidth !== '0px' };
    });
    if (!focused) continue;
    expect(focused.outline, `focus visible on ${focused.name}`).toBe(true);
    reached.push(focused.name!);
  }
  for (const control of ['Line, vehicle or destination', 'Mode', 'Delay', 'Bus', 'Tram', 'Ferry', 'Zoom in']) {
    expect(reached.some((name) => name.includes(control)), `${control} in ${reached.join(' | ')}`).toBe(true);
  }
  // Searching from the keyboard alone.
  await page.getByTestId('finder').focus();
  await page.keyboard.type('M1');
  await expect(page.getByTestId('finder-count')).toBeVisible();
});

test.describe('on a phone', () => {
  test.use({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });

  test('the panel is a bottom sheet and a tap picks a vehicle', async ({ page }) => {
    const errors = await openMap(page);
    const target = (await vehicles(page)).find((v) => v.x > 30 && v.x < 360 && v.y > 120 && v.y < 500)!;
    const box = (await page.locator('#map').boundingBox())!;
    const now = (await vehicles(page)).find((v) => v.id === target.id)!;
    await page.touchscreen.tap(box.x + now.x, box.y + now.y);
    const panel = page.getByTestId('vehicle-panel');
    await expect(panel).toBeVisible();
    const sheet = (await panel.boundingBox())!;
    expect(sheet.width).toBeGreaterThanOrEqual(389);
    expect(sheet.y + sheet.height).toBeGreaterThanOrEqual(843);
    expect(sheet.height).toBeLessThanOrEqual(844 * 0.56);
    // Nothing sticks out sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.getByRole('button', { name: 'Close' }).tap();
    await expect(panel).toBeHidden();
    expect(errors).toEqual([]);
  });

  test('a followed vehicle stays in sight above the sheet', async ({ page }) => {
    await openMap(page);
    const target = (await vehicles(page)).find((v) => v.x > 30 && v.x < 360 && v.y > 120 && v.y < 500)!;
    const map = (await page.locator('#map').boundingBox())!;
    const now = (await vehicles(page)).find((v) => v.id === target.id)!;
    await page.touchscreen.tap(map.x + now.x, map.y + now.y);
    await page.getByTestId('follow').tap();
    // A tap picks the nearest vehicle under it: follow whichever that was.
    const followed = (await page.locator('[data-testid="vehicle-panel"] dd[data-field="id"]').textContent())!;
    const sheet = (await page.getByTestId('vehicle-panel').boundingBox())!;
    const uncovered = sheet.y - map.y;
    expect(uncovered).toBeLessThan(map.height - 100);
    // Centred in what the sheet leaves of the map, not behind the sheet.
    await expect
      .poll(async () => {
        const v = (await vehicles(page)).find((v) => v.id === followed)!;
        return Math.hypot(v.x - map.width / 2, v.y - uncovered / 2);
      })
      .toBeLessThan(2);
  });
});

test('where vehicles crowd, a click picks the nearest and offers the others', async ({ page }) => {
  await openMap(page);
  // Zoomed out, vehicles at the same stops overlap.
  await page.evaluate(() => (window as any).transitMap.setView([60.19, 24.95], 10, { animate: false }));
  await drawn(page);
  const box = (await page.locator('#map').boundingBox())!;
  let pair: [string, string] | undefined;
  await expect
    .poll(async () => {
      const every = await vehicles(page);
      const all = every.filter((v) => v.x > 40 && v.y > 40 && v.x < box.width - 420 && v.y < box.height - 40);
      for (const a of all) {
        const b = all.find((b) => b.id !== a.id && Math.hypot(a.x - b.x, a.y - b.y) < 6);
        // A crowd of more than the panel offers (7 within a click's reach: at a depot,
        // say) could leave the pair's other vehicle out; a small crowd cannot.
        const crowd = every.filter((v) => Math.hypot(a.x - v.x, a.y - v.y) <= 16).length;
        if (b && crowd <= 7) {
          pair = [a.id, b.id];
          return true;
        }
      }
      return false;
    })
    .toBe(true);
  await clickVehicle(page, pair![0]);
  const panel = page.getByTestId('vehicle-panel');
  const id = panel.locator('dd[data-field="id"]');
  await expect(id).toHaveText(/^\d{4}\/\d{5}$/);
  const picked = (await id.textContent())!;
  const nearby = page.getByTestId('nearby');
  await expect(nearby).toBeVisible();
  const offered = await nearby.locator('button').evaluateAll((bs) => bs.map((b) => b.getAttribute('data-vehicle')!));
  // Whichever was nearest at the moment of the click is picked; both of the pair are on offer.
  expect([picked, ...offered]).toEqual(expect.arrayContaining(pair!));
  expect(offered).not.toContain(picked);
  const other = offered[0];
  await nearby.locator(`button[data-vehicle="${other}"]`).click();
  await expect(id).toHaveText(other);
  // The group stays on offer, so a rider can step back to the first one.
  await expect(nearby.locator(`button[data-vehicle="${picked}"]`)).toBeVisible();
  await expect(nearby.locator(`button[data-vehicle="${other}"]`)).toHaveCount(0);
});
