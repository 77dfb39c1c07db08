import { expect, test, type Page } from '@playwright/test';
import { DATASET } from './fixtures';

/** Canvas-relative mouse helpers (fractions of the canvas box). */
async function canvasAt(page: Page) {
  const box = (await page.getByTestId('canvas').boundingBox())!;
  return (fx: number, fy: number) => ({ x: box.x + box.width * fx, y: box.y + box.height * fy });
}

test('draw every prompt kind on a dataset frame, predict, see the action overlay', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/#/prompt');
  await page
    .getByTestId('dataset-list')
    .getByRole('button', { name: new RegExp(DATASET) })
    .click();
  await expect(page.getByTestId('filmstrip')).toBeVisible({ timeout: 30_000 });
  // F steps to the next frame.
  await page.keyboard.press('f');
  await expect(page.getByTestId('filmstrip').locator('[aria-current="true"]')).toHaveAttribute(
    'data-frame',
    '1',
  );

  const at = await canvasAt(page);
  /** Press at one canvas point, move in `steps` pointer events to another, release. */
  const drag = async (from: [number, number], to: [number, number], steps: number): Promise<void> => {
    const a = at(...from);
    const b = at(...to);
    await page.mouse.move(a.x, a.y);
    await page.mouse.down();
    await page.mouse.move(b.x, b.y, { steps });
    await page.mouse.up();
  };
  const list = page.getByTestId('prompt-list');
  const kinds = async () =>
    list.locator('li').evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')));

  await page.keyboard.press('p');
  let p = at(0.45, 0.55);
  await page.mouse.click(p.x, p.y);
  await page.keyboard.press('n');
  p = at(0.6, 0.5);
  await page.mouse.click(p.x, p.y);
  await page.keyboard.press('b');
  await drag([0.35, 0.4], [0.55, 0.65], 6);
  await page.keyboard.press('l');
  for (const [fx, fy] of [
    [0.2, 0.2],
    [0.3, 0.3],
    [0.4, 0.25],
  ] as const) {
    p = at(fx, fy);
    await page.mouse.click(p.x, p.y);
  }
  await page.keyboard.press('Enter');
  await page.keyboard.press('m');
  await drag([0.7, 0.7], [0.8, 0.75], 8);
  await expect.poll(kinds).toEqual(['point', 'point', 'box', 'line', 'mask']);

  // Undo / redo one gesture at a time.
  await page.keyboard.press('Control+z');
  await expect.poll(kinds).toEqual(['point', 'point', 'box', 'line']);
  await page.keyboard.press('Control+Shift+Z');
  await expect.poll(kinds).toEqual(['point', 'point', 'box', 'line', 'mask']);

  // Erasing the mask's every pixel (a wider eraser over the same stroke) takes it off the list: an
  // empty mask is no prompt. One undo brings it back.
  await page.keyboard.press('e');
  for (let i = 0; i < 3; i++) await page.keyboard.press(']');
  await drag([0.7, 0.7], [0.8, 0.75], 8);
  await expect.poll(kinds).toEqual(['point', 'point', 'box', 'line']);
  await page.keyboard.press('Control+z');
  await expect.poll(kinds).toEqual(['point', 'point', 'box', 'line', 'mask']);

  // ? lists the command table, the page's own D / F included; Esc closes it.
  await page.keyboard.press('?');
  const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await expect(help).toContainText('Delete / Backspace');
  await expect(help).toContainText('Next frame of the episode');
  await page.keyboard.press('Escape');
  await expect(help).toBeHidden();

  // The in-browser encoder runs on WASM here (no GPU in CI) and reports a time.
  await expect(page.getByTestId('encoder-backend')).toContainText(/wasm|webgpu/, { timeout: 30_000 });
  await expect(page.getByTestId('encoder-time')).toHaveText(/ms/);

  await page.getByTestId('predict').click();
  const table = page.getByTestId('action-table');
  await expect(table).toBeVisible({ timeout: 60_000 });
  // One predicted row per chunk step, each with a recorded row beside it.
  expect(await table.locator('tbody tr:not(.rec)').count()).toBeGreaterThan(0);
  expect(await table.locator('tbody tr.rec').count()).toBeGreaterThan(0);
  // The chunk is drawn over the frame, projected with the dataset's camera model.
  await expect(page.getByTestId('prompt-stage')).toHaveAttribute('data-overlay', 'projected');

  // Save the drawing back to the episode as an annotation version.
  await page.getByTestId('save-annotation').click();
  await expect(page.getByTestId('annotation-version')).toContainText(/saved v\d+/, { timeout: 15_000 });

  await page.screenshot({ path: 'screenshots/prompt.png' });
});
