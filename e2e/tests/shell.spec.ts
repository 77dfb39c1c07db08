import { expect, test } from '@playwright/test';

test('the studio shows a healthy server and its metadata', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('server-health')).toHaveText('server: healthy', { timeout: 30_000 });
  const meta = page.getByTestId('server-meta');
  await expect(meta).toContainText('cpu');
  await expect(meta).toContainText(/v\d+\.\d+\.\d+/);
  await expect(meta).toContainText('model:');
  for (const name of ['Prompt', 'Teleop', 'Runs']) {
    await page.getByRole('link', { name }).click();
    await expect(page.getByTestId(`page-${name.toLowerCase()}`)).toBeVisible();
  }
  await page.screenshot({ path: 'screenshots/studio-shell.png' });
});
