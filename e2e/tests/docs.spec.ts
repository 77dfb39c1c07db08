// The GPU server's API docs render with no internet: every request they make goes to the server
// itself, and every operation has a description.
import { expect, test, type Page } from '@playwright/test';
import { SERVER_URL } from './fixtures';

/** Refuses and records every request that leaves the server (a CDN, fonts, a validator badge). */
async function offline(page: Page): Promise<string[]> {
  const outside: string[] = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(SERVER_URL)) return route.continue();
    outside.push(url);
    return route.abort('internetdisconnected');
  });
  return outside;
}

test('/docs: Swagger UI from the server itself lists every operation with its description', async ({
  page,
}) => {
  const outside = await offline(page);
  await page.goto(`${SERVER_URL}/docs`);
  const ops = page.locator('.swagger-ui .opblock');
  await expect(ops.first()).toBeVisible({ timeout: 30_000 });
  expect(await ops.count()).toBeGreaterThanOrEqual(28);
  // Open one operation: its description is there.
  const evalOp = page.locator('.opblock', { hasText: '/v1/runs/{run_id}/eval' }).first();
  await evalOp.locator('.opblock-summary').click();
  await expect(evalOp).toContainText("An eval run's results");
  const predictOp = page.locator('.opblock', { hasText: '/v1/policy/predict' }).first();
  await predictOp.locator('.opblock-summary').click();
  await expect(predictOp).toContainText('One action chunk for a frame');
  expect(outside).toEqual([]);
});

test('/redoc: ReDoc from the server itself renders the reference', async ({ page }) => {
  const outside = await offline(page);
  await page.goto(`${SERVER_URL}/redoc`);
  await expect(page.getByRole('heading', { name: /PixelVLA Studio GPU server/ }).first()).toBeVisible({
    timeout: 30_000,
  });
  await expect(page.getByText('Every dataset the server can read').first()).toBeAttached();
  expect(outside).toEqual([]);
});
