// The Runs page as people who launch and compare runs all day expect it: the form cannot launch
// what it does not show, an eval's results are tables and charts, the log reads like a terminal,
// runs can be deleted, any number compared, and a deployed run is named in the status bar.
import { expect, test, type Locator, type Page } from '@playwright/test';
import { DATASET } from './fixtures';

const form = (page: Page) => page.getByTestId('launch-form');

async function waitSucceeded(page: Page, row: Locator, timeout: number): Promise<void> {
  await expect
    .poll(
      async () => {
        const status = await row.getAttribute('data-status');
        if (status === 'failed' || status === 'cancelled') {
          await row.click();
          throw new Error(`run ${status}:\n${await page.getByTestId('run-log').innerText()}`);
        }
        return status;
      },
      { timeout, intervals: [1000] },
    )
    .toBe('succeeded');
}

test('invalid input cannot launch, and the summary says exactly what will run', async ({ page }) => {
  await page.goto('/#/runs');
  const f = form(page);
  await f.locator('select[name=stage]').selectOption('stage2');
  await f.locator('select[name=dataset]').selectOption(DATASET);
  await f.locator('input[name=steps]').fill('abc');
  await f.locator('input[name=batch_size]').fill('-3');
  await expect(page.getByTestId('launch')).toBeDisabled();
  const problems = page.getByTestId('launch-problems');
  await expect(problems).toContainText('steps: “abc” is not a number');
  await expect(problems).toContainText('batch size: must be at least 1');
  await expect(page.getByTestId('field-error-steps')).toBeVisible();

  await f.locator('input[name=steps]').fill('3');
  await f.locator('input[name=batch_size]').fill('2');
  await expect(page.getByTestId('launch')).toBeEnabled();
  const summary = page.getByTestId('launch-summary');
  await expect(page.getByTestId('launch-overrides')).toHaveText('steps=3, batch_size=2');
  const served = await page.locator('select[name=served-model]').inputValue();
  await expect(summary).toContainText(`stage2 on ${DATASET}, starting from ${served}`);

  // No model to start from: said, and not launchable (never a silent switch to the served model).
  await f.locator('select[name=base]').selectOption('');
  await expect(page.getByTestId('launch')).toBeDisabled();
  await expect(problems).toContainText('start from: a stage2 run starts from a model');
  await expect(f.locator('select[name=base]')).toHaveValue('');
});

test('an eval of chosen tasks: results as a table and a chart, readable facts, the log at its end, delete', async ({
  page,
}) => {
  test.setTimeout(300_000);
  await page.goto('/#/runs');
  const f = form(page);
  await f.locator('select[name=stage]').selectOption('eval');
  // The served model and the eval form arrive with their queries: read and tick only once they have.
  const servedSelect = page.locator('select[name=served-model]');
  await expect(servedSelect).not.toHaveValue('');
  const served = await servedSelect.inputValue();
  await f.locator('select[name=base]').selectOption(served);
  await expect(f.locator('input[type=checkbox][name="tasks:pick"]')).toBeVisible();
  await expect(f.locator('input[type=checkbox][name="prompt_types:box"]')).toBeVisible();
  const name = `e2e eval ${Date.now()}`;
  await f.locator('input[name=name]').fill(name);
  // Only the pick task, text-only and box prompts.
  for (const box of await f.locator('input[type=checkbox][name^="tasks:"]').all())
    if ((await box.getAttribute('name')) !== 'tasks:pick') await box.uncheck();
  for (const box of await f.locator('input[type=checkbox][name^="prompt_types:"]').all()) {
    const n = await box.getAttribute('name');
    if (n === 'prompt_types:none' || n === 'prompt_types:box') await box.check();
    else await box.uncheck();
  }
  await f.locator('input[name=episodes_per_cell]').fill('1');
  await f.locator('input[name=max_steps]').fill('3');
  await expect(page.getByTestId('launch-overrides')).toContainText('tasks=[pick]');
  await expect(page.getByTestId('launch-overrides')).toContainText('prompt_types=[none, box]');
  await page.getByTestId('launch').click();

  const row = page.getByTestId('runs-table').locator('tr', { hasText: name });
  await expect(row).toBeVisible({ timeout: 15_000 });
  await row.click();
  await waitSucceeded(page, row, 240_000);

  const table = page.getByTestId('eval-table');
  await expect(table).toBeVisible({ timeout: 15_000 });
  await expect(table.locator('tr[data-task]')).toHaveCount(1);
  await expect(table.locator('thead')).toContainText('none');
  await expect(table.locator('thead')).toContainText('box');
  await expect(page.getByTestId('eval-cell-pick-box')).toHaveText(/^\d+% \(1\)$/);
  await expect(page.getByTestId('eval-chart')).toBeVisible();
  const detail = page.getByTestId('run-detail');
  await expect(detail).not.toContainText('No metrics yet');
  await expect(detail).toContainText(/of 2 episodes succeeded/);
  // Times as dates, not Unix seconds; no "episodes 2.0000".
  await expect(page.getByTestId('run-created')).toContainText(String(new Date().getFullYear()));
  await expect(page.getByTestId('run-facts')).not.toContainText(/\d{10}/);
  await expect(detail).not.toContainText('.0000');

  // The log: lines, no carriage returns, scrolled to its end.
  const log = page.getByTestId('run-log');
  await expect(log.locator('.log-line').first()).toBeVisible();
  const lines = await log.locator('.log-line').allInnerTexts();
  expect(lines.some((l) => l.includes('\r'))).toBe(false);
  const gap = await log.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
  expect(gap).toBeLessThan(2);

  // Delete, confirmed: the run leaves the queue and the server.
  const id = (await row.getAttribute('data-run'))!;
  await page.getByTestId('delete-run').click();
  await page.getByTestId('confirm-delete-run').click();
  await expect(page.getByTestId('runs-table').locator(`tr[data-run="${id}"]`)).toHaveCount(0);
  expect((await page.request.get(`/v1/runs/${id}`)).status()).toBe(404);
});

test('compare four runs on one chart; a deployed run is named in the status bar', async ({ page }) => {
  test.setTimeout(600_000);
  await page.goto('/#/runs');
  const f = form(page);
  await f.locator('select[name=stage]').selectOption('base');
  await f.locator('select[name=dataset]').selectOption(DATASET);
  await f.locator('input[name=steps]').fill('2');
  await f.locator('input[name=batch_size]').fill('2');
  await f.locator('input[name=log_every]').fill('1');
  await f.locator('input[name=warmup_steps]').fill('1');
  const stamp = Date.now();
  const names = [1, 2, 3, 4].map((i) => `e2e cmp ${stamp} ${i}`);
  for (const n of names) {
    await f.locator('input[name=name]').fill(n);
    await page.getByTestId('launch').click();
    await expect(page.getByTestId('runs-table').locator('tr', { hasText: n })).toBeVisible({
      timeout: 15_000,
    });
  }
  const rows = names.map((n) => page.getByTestId('runs-table').locator('tr', { hasText: n }));
  for (const r of rows) await waitSucceeded(page, r, 300_000);

  for (const n of names) await page.getByLabel(`compare ${n}`).check();
  const compare = page.getByTestId('compare');
  await expect(compare).toContainText('Compare (4 runs)');
  await expect(compare.locator('table.actions tbody tr')).toHaveCount(4);
  // One series per run in the chart's legend (uPlot lists the x axis first).
  await expect(compare.locator('.u-legend .u-series')).toHaveCount(5, { timeout: 15_000 });
  for (const n of names) await expect(compare.locator('.u-legend')).toContainText(n);

  // Deploy one: the status bar names it as the Runs page does, not by its bundle's date.
  const servedSelect = page.locator('select[name=served-model]');
  const before = await servedSelect.inputValue();
  await rows[0]!.click();
  await page.getByTestId('deploy-run').click();
  await expect(page.getByTestId('deploy-run')).toHaveText('Deployed', { timeout: 60_000 });
  await expect(page.getByTestId('served-model-name')).toContainText(`run “${names[0]}” (base)`, {
    timeout: 30_000,
  });
  await servedSelect.selectOption(before);
  await expect(servedSelect).toHaveValue(before, { timeout: 60_000 });

  for (const r of rows) {
    const id = (await r.getAttribute('data-run'))!;
    await page.request.delete(`/v1/runs/${id}`);
  }
});
