import { expect, test } from '@playwright/test';
import { DATASET } from './fixtures';

test('runs: launch a short stage-2 run on the sample dataset and watch it finish', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto('/#/runs');
  const form = page.getByTestId('launch-form');
  await form.locator('select[name=stage]').selectOption('stage2');
  await form.locator('select[name=dataset]').selectOption(DATASET);
  await form.locator('input[name=name]').fill('e2e stage2');
  await form.locator('input[name=steps]').fill('6');
  await form.locator('input[name=batch_size]').fill('2');
  await form.locator('input[name=log_every]').fill('1');
  await form.locator('input[name=warmup_steps]').fill('1');
  await page.getByTestId('launch').click();

  const row = page.getByTestId('runs-table').locator('tr', { hasText: 'e2e stage2' }).first();
  await expect(row).toBeVisible({ timeout: 15_000 });
  await expect(row).toHaveAttribute('data-status', 'succeeded', { timeout: 240_000 });
  await row.click();
  await expect(page.getByTestId('loss-chart')).toBeVisible();
  await page.screenshot({ path: 'screenshots/runs.png', fullPage: true });
});
