import type { Page } from '@playwright/test';

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

/** The colour (`#rrggbb`) painted at a vehicle's point on the vehicle canvas. */
export async function paintedAt(page: Page, id: string): Promise<string> {
  return page.evaluate((id) => {
    const v = ((window as any).transitVehicles() as any[]).find((v) => v.id === id);
    const canvas = document.querySelector('canvas.vehicle-canvas') as HTMLCanvasElement;
    const ratio = canvas.width / canvas.clientWidth;
    const [r, g, b, a] = canvas.getContext('2d')!.getImageData(Math.round(v.x * ratio), Math.round(v.y * ratio), 1, 1).data;
    return a === 0 ? 'transparent' : '#' + [r, g, b].map((c) => c.toString(16).padStart(2, '0')).join('');
  }, id);
}
