import { expect, test } from '@playwright/test';

const url = () => process.env.TRANSIT_URL ?? '';

test('the API docs page renders from local assets only', async ({ page }) => {
  const external: string[] = [];
  page.on('request', (request) => {
    if (!request.url().startsWith(url()) && !request.url().startsWith('data:')) external.push(request.url());
  });
  await page.goto(`${url()}/docs`);
  await expect(page.locator('.swagger-ui .info .title')).toContainText('transit-stream');
  await expect(page.locator('.opblock-summary-path').first()).toBeVisible();
  await expect(page.getByText('/api/vehicles/{operator}/{vehicle}').first()).toBeVisible();
  expect(external).toEqual([]);
});
