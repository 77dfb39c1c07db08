import { expect, test } from '@playwright/test';
import { DATASET } from './fixtures';

test('runs: launch a short stage-2 run on the sample dataset and watch it finish', async ({ page }) => {
  test.setTimeout(420_000);
  await page.goto('/#/runs');
  const form = page.getByTestId('launch-form');
  await form.locator('select[name=stage]').selectOption('stage2');
  await form.locator('select[name=dataset]').selectOption(DATASET);
  // A name of its own: a reused data dir (var/e2e) holds earlier runs, and the row below must be this one.
  const name = `e2e stage2 ${Date.now()}`;
  await form.locator('input[name=name]').fill(name);
  await form.locator('input[name=steps]').fill('3');
  await form.locator('input[name=batch_size]').fill('2');
  await form.locator('input[name=log_every]').fill('1');
  await form.locator('input[name=warmup_steps]').fill('1');
  await page.getByTestId('launch').click();

  const row = page.getByTestId('runs-table').locator('tr', { hasText: name });
  await expect(row).toBeVisible({ timeout: 15_000 });
  await row.click();
  await expect(page.getByTestId('run-detail')).toContainText(name);
  // Progress arrives live; a failed run fails the spec at once with its log.
  await expect
    .poll(
      async () => {
        const status = await row.getAttribute('data-status');
        if (status === 'failed' || status === 'cancelled') {
          throw new Error(`run ${status}:\n${await page.getByTestId('run-log').innerText()}`);
        }
        return status;
      },
      { timeout: 240_000, intervals: [1000] },
    )
    .toBe('succeeded');
  await expect(page.getByTestId('loss-chart')).toBeVisible({ timeout: 10_000 });
  await expect(row.locator('.bar')).toContainText(/^\d+\/(\d+|\?)$/);
  await page.screenshot({ path: 'screenshots/runs.png', fullPage: true });

  // Deploy the finished run: its bundle joins the registry as run-<id> and becomes the served model.
  const served = page.locator('select[name=served-model]');
  const before = await served.inputValue();
  const runId = await row.getAttribute('data-run');
  await page.getByTestId('deploy-run').click();
  await expect(page.getByTestId('deploy-run')).toHaveText('Deployed', { timeout: 60_000 });
  await expect(served).toHaveValue(`run-${runId}`, { timeout: 10_000 });
  // Switch back (hot-swap from the picker) so the other specs see the model they expect.
  await served.selectOption(before);
  await expect(served).toHaveValue(before, { timeout: 60_000 });
  await expect(page.getByTestId('deploy-run')).toHaveText('Deploy');
});
