import { expect, test } from '@playwright/test';
import { startServer } from '../server';

// This test runs its own server, because it stops and restarts it.
test('the map says when the connection is lost and recovers by itself', async ({ page }) => {
  const first = await startServer({ vehicles: 50 });
  const bind = new URL(first.url).host;
  let second: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    await page.route(/tile\.openstreetmap\.org/, (route) => route.abort());
    await page.goto(first.url);
    const status = page.getByTestId('status');
    await expect(status).toHaveAttribute('data-state', 'live');
    await expect.poll(async () => Number(await status.getAttribute('data-count'))).toBeGreaterThan(40);

    await first.stop();
    await expect(status).toHaveAttribute('data-state', 'reconnecting');
    await expect(status).toContainText('Connection lost');

    // Same address: the page's socket must find the server again without a reload.
    second = await startServer({ bind, vehicles: 60 });
    await expect(status).toHaveAttribute('data-state', 'live', { timeout: 30_000 });
    // The fresh snapshot replaced the old fleet: the count follows the new server.
    await expect.poll(async () => Number(await status.getAttribute('data-count'))).toBeGreaterThan(50);
  } finally {
    await second?.stop();
    await first.stop().catch(() => undefined);
  }
});
