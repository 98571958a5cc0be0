import { expect, test } from '@playwright/test';
import { clickVehicle, isolatedVehicle, openMap } from './vehicles';

test('the map runs under its Content-Security-Policy with nothing refused', async ({ page }) => {
  // Every refusal the policy makes is reported to the page as an event: collect them all.
  await page.addInitScript(() => {
    (window as any).refused = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      (window as any).refused.push(`${e.effectiveDirective} ${e.blockedURI}`),
    );
  });
  const served = page.waitForResponse((response) => new URL(response.url()).pathname === '/');
  const errors = await openMap(page);
  const policy = (await served).headers()['content-security-policy'];
  expect(policy).toContain("frame-ancestors 'none'");
  expect(policy).not.toContain('unsafe-inline');
  // The inline hydration script runs by the nonce the policy names.
  const nonce = /'nonce-([^']+)'/.exec(policy)![1];
  expect(await page.locator(`script[type=module][nonce]`).count()).toBe(1);
  expect(await page.evaluate(() => (document.querySelector('script[type=module]') as HTMLScriptElement).nonce)).toBe(nonce);

  // The live feed, the canvas, a click and its panel: all of it within the policy.
  const target = await isolatedVehicle(page);
  expect(target).toBeDefined();
  await clickVehicle(page, target!.id);
  await expect(page.getByTestId('vehicle-panel')).toBeVisible();
  expect(await page.evaluate(() => (window as any).refused)).toEqual([]);
  expect(errors).toEqual([]);
});
