// The Prompt page as people who annotate frames all day expect it (CVAT, Label Studio): prompts
// and predictions belong to a frame, the URL names the frame, opened files are checked, and the
// shortcuts are listed where the help says.
import { expect, test, type Page } from '@playwright/test';
import { DATASET } from './fixtures';

async function canvasAt(page: Page) {
  const box = (await page.getByTestId('canvas').boundingBox())!;
  return (fx: number, fy: number) => ({ x: box.x + box.width * fx, y: box.y + box.height * fy });
}

async function clickCanvas(page: Page, fx: number, fy: number): Promise<void> {
  const p = (await canvasAt(page))(fx, fy);
  await page.mouse.click(p.x, p.y);
}

const current = (page: Page) => page.getByTestId('filmstrip').locator('[aria-current="true"]');
const prompts = (page: Page) => page.getByTestId('prompt-list').locator('li');
/** The frame's name under the canvas (the canvas status bar's right end). */
const frameName = (page: Page) => page.locator('.canvas-status .right');

/** Opens the sample dataset's first episode and waits until its frame 0 is on the canvas. */
async function openDataset(page: Page): Promise<void> {
  await page.goto('/#/prompt');
  await page
    .getByTestId('dataset-list')
    .getByRole('button', { name: new RegExp(DATASET) })
    .click();
  await expect(current(page)).toHaveAttribute('data-frame', '0', { timeout: 30_000 });
  await expect(frameName(page)).toContainText('frame 0', { timeout: 30_000 });
}

async function onFrame(page: Page, t: number): Promise<void> {
  await expect(current(page)).toHaveAttribute('data-frame', String(t));
  await expect(frameName(page)).toHaveText(new RegExp(`frame ${t} · front$`), {
    timeout: 30_000,
  });
}

test('a prediction and its prompts stay on the frame they were made on', async ({ page }) => {
  test.setTimeout(120_000);
  await openDataset(page);
  await page.keyboard.press('p');
  await clickCanvas(page, 0.4, 0.6);
  await expect(prompts(page)).toHaveCount(1);
  await page.getByTestId('predict').click();
  await expect(page.getByTestId('action-table')).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('prompt-stage')).not.toHaveAttribute('data-overlay', 'none');

  // Another frame: no prompts, no prediction, no path drawn from its gripper with frame 0's numbers.
  await page.keyboard.press('f');
  await onFrame(page, 1);
  await expect(prompts(page)).toHaveCount(0);
  await expect(page.getByTestId('action-table')).toHaveCount(0);
  await expect(page.getByTestId('no-prediction')).toContainText('No prediction for frame 1');
  await expect(page.getByTestId('prompt-stage')).toHaveAttribute('data-overlay', 'none');
  // The filmstrip says which frames have prompts.
  await expect(page.getByTestId('filmstrip').locator('[data-frame="0"]')).toHaveAttribute(
    'data-prompts',
    '1',
  );

  // Back on frame 0: its prompt and its prediction are there again.
  await page.keyboard.press('d');
  await onFrame(page, 0);
  await expect(prompts(page)).toHaveCount(1);
  await expect(page.getByTestId('prediction')).toContainText('Action chunk for frame 0');

  // The scratch frame has its own (empty) set too.
  await page.getByRole('button', { name: /Scratch frame/ }).click();
  await expect(frameName(page)).toHaveText('scratch frame');
  await expect(prompts(page)).toHaveCount(0);
  await expect(page.getByTestId('action-table')).toHaveCount(0);
});

test('prompts move to the next frame only when copied; clear all is one undo entry', async ({ page }) => {
  await openDataset(page);
  await page.keyboard.press('p');
  await clickCanvas(page, 0.3, 0.3);
  await page.keyboard.press('b');
  const at = await canvasAt(page);
  const a = at(0.5, 0.5);
  const b = at(0.7, 0.7);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move(b.x, b.y, { steps: 5 });
  await page.mouse.up();
  await expect(prompts(page)).toHaveCount(2);

  await page.getByTestId('copy-next').click();
  await onFrame(page, 1);
  await expect(prompts(page)).toHaveCount(2);
  // The copy is one undo entry on the frame it landed on.
  await page.keyboard.press('Control+z');
  await expect(prompts(page)).toHaveCount(0);
  await page.keyboard.press('Control+Shift+Z');
  await expect(prompts(page)).toHaveCount(2);
  // Shift+F copies too.
  await page.keyboard.press('Shift+F');
  await onFrame(page, 2);
  await expect(prompts(page)).toHaveCount(2);

  await page.getByTestId('clear-prompts').click();
  await expect(prompts(page)).toHaveCount(0);
  await expect(page.getByTestId('clear-prompts')).toBeDisabled();
  await page.keyboard.press('Control+z');
  await expect(prompts(page)).toHaveCount(2);
});

test('the URL names the frame: a deep link opens it and a reload keeps frame and prompts', async ({
  page,
}) => {
  await page.goto(`/#/prompt?dataset=${DATASET}&episode=1&frame=3&camera=wrist`);
  await expect(frameName(page)).toHaveText(`${DATASET} · episode 1 · frame 3 · wrist`, {
    timeout: 30_000,
  });
  await expect(page.getByTestId('episode-list').locator('[aria-current="true"]')).toContainText('#1');
  await expect(page.getByLabel('Camera')).toHaveValue('wrist');
  await page.keyboard.press('p');
  await clickCanvas(page, 0.5, 0.5);
  await expect(prompts(page)).toHaveCount(1);
  await page.keyboard.press('f');
  await expect(page).toHaveURL(/frame=4/);
  await expect(page).toHaveURL(/episode=1/);
  await expect(page).toHaveURL(/camera=wrist/);

  await page.reload();
  await expect(frameName(page)).toHaveText(`${DATASET} · episode 1 · frame 4 · wrist`, {
    timeout: 30_000,
  });
  await expect(prompts(page)).toHaveCount(0);
  await page.keyboard.press('d');
  await expect(frameName(page)).toHaveText(`${DATASET} · episode 1 · frame 3 · wrist`);
  await expect(prompts(page)).toHaveCount(1);

  // A link to a dataset the server does not have says so.
  await page.goto('/#/prompt?dataset=no-such-dataset&frame=2');
  await page.reload();
  await expect(page.getByTestId('link-note')).toContainText('no-such-dataset');
});

test('Open image: a non-image is a visible error; a large image is downscaled and predicts', async ({
  page,
}) => {
  test.setTimeout(120_000);
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto('/#/prompt');
  const input = page.locator('input[type=file][accept="image/*"]');
  await input.setInputFiles({
    name: 'notes.txt',
    mimeType: 'text/plain',
    buffer: Buffer.from('not an image'),
  });
  await expect(page.getByTestId('open-image-note')).toContainText('notes.txt is not an image');
  expect(pageErrors).toEqual([]);

  // A 4096x3072 PNG made in the page (the server takes at most 2048 px a side).
  const png = await page.evaluate(async () => {
    const c = new OffscreenCanvas(4096, 3072);
    const g = c.getContext('2d')!;
    g.fillStyle = '#405060';
    g.fillRect(0, 0, 4096, 3072);
    g.fillStyle = '#d64545';
    g.fillRect(1800, 1400, 400, 300);
    const bytes = new Uint8Array(await (await c.convertToBlob({ type: 'image/png' })).arrayBuffer());
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s);
  });
  await input.setInputFiles({ name: 'big.png', mimeType: 'image/png', buffer: Buffer.from(png, 'base64') });
  await expect(page.getByTestId('open-image-note')).toContainText('4096×3072: downscaled to 2048×1536');
  await expect(frameName(page)).toHaveText('big.png · 2048×1536');
  await page.keyboard.press('b');
  const at = await canvasAt(page);
  const a = at(0.4, 0.4);
  const b = at(0.6, 0.6);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move(b.x, b.y, { steps: 4 });
  await page.mouse.up();
  await page.getByTestId('predict').click();
  await expect(page.getByTestId('action-table')).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('prediction')).toContainText('Action chunk for this image');
  expect(pageErrors).toEqual([]);
});

test('the help lists every page key, and Ctrl+Enter predicts from anywhere on the page', async ({ page }) => {
  test.setTimeout(120_000);
  await openDataset(page);
  await page.keyboard.press('?');
  const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  for (const row of ['frame-next', 'frame-previous', 'copy-next', 'predict'])
    await expect(help.locator(`[data-command="${row}"]`)).toBeVisible();
  await expect(help.locator('[data-command="predict"]')).toContainText('Ctrl+Enter');
  await expect(help.locator('[data-command="copy-next"]')).toContainText('Shift+F');
  await page.keyboard.press('Escape');
  await expect(help).toBeHidden();
  await page.keyboard.press('Control+Enter');
  await expect(page.getByTestId('action-table')).toBeVisible({ timeout: 60_000 });
});

test('a prompt error on the Prompt page does not follow to a new Teleop session', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/#/prompt');
  await expect(frameName(page)).toHaveText('scratch frame');
  // Five masks: one more than the encoder takes (each prompt alone is valid, so import accepts them).
  const mask = { type: 'mask', rle: { size: [480, 640], counts: [1000, 50, 306150] } };
  await page.locator('input[type=file][accept="application/json"]').setInputFiles({
    name: 'masks.json',
    mimeType: 'application/json',
    buffer: Buffer.from(JSON.stringify([mask, mask, mask, mask, mask])),
  });
  await expect(prompts(page)).toHaveCount(5);
  const badge = page.getByTestId('encoder-status');
  await expect(badge.locator('.errbox')).toContainText('mask prompts given', { timeout: 30_000 });

  await page.goto('/#/teleop');
  await page.getByTestId('new-robot').click();
  try {
    await expect(page.getByTestId('link-indicator')).toContainText('open', { timeout: 60_000 });
    await expect(page.getByTestId('encoder-status')).toBeVisible();
    await expect(page.getByTestId('encoder-status').locator('.errbox')).toHaveCount(0);
  } finally {
    // Robot sessions are limited: leave none behind.
    const list = (await (await page.request.get('/v1/robots')).json()) as { sessions: { id: string }[] };
    for (const s of list.sessions) await page.request.delete(`/v1/robots/${s.id}`);
  }
});

test('the demo reads the instruction: nothing drawn acts on what it names; a prompt elsewhere is flagged', async ({
  page,
}) => {
  test.setTimeout(120_000);
  await openDataset(page);
  const instruction = page.getByTestId('instruction');
  await expect(instruction).toHaveValue(/^pick up the /); // the episode's own task
  const importPoint = async (x: number, y: number): Promise<void> => {
    if ((await prompts(page).count()) > 0) await page.getByTestId('clear-prompts').click();
    await expect(prompts(page)).toHaveCount(0);
    await page.getByTestId('import-prompts').setInputFiles({
      name: 'point.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify([{ type: 'point', x, y, positive: true }])),
    });
    await expect(prompts(page)).toHaveCount(1);
    // The prediction shown is now from other prompts; it is replaced when the next one arrives.
    await expect(page.getByTestId('prediction-stale')).toBeVisible();
  };

  // Nothing drawn: the model's text grounder finds the named object and acts on it.
  await page.getByTestId('predict').click();
  const used = page.getByTestId('grounding-used');
  await expect(used).toBeVisible({ timeout: 60_000 });
  const [x0, y0, x1, y1] = (await used.getAttribute('data-box'))!.split(',').map(Number) as [
    number,
    number,
    number,
    number,
  ];
  expect(x1 - x0).toBeGreaterThan(0);
  expect(x1 - x0).toBeLessThan(0.3); // one object, not the frame
  const [cx, cy] = [(x0 + x1) / 2, (y0 + y1) / 2];

  // A point on that object: instruction and prompt agree, no warning.
  await importPoint(cx, cy);
  await page.getByTestId('predict').click();
  await expect(page.getByTestId('prediction-stale')).toHaveCount(0, { timeout: 60_000 });
  await expect(page.getByTestId('grounding-used')).toHaveCount(0);
  await expect(page.getByTestId('prompt-disagree')).toHaveCount(0);

  // A point in the far corner from it: the studio says they disagree, and that the prompt wins.
  await importPoint(cx > 0.5 ? 0.04 : 0.96, cy > 0.5 ? 0.04 : 0.96);
  await page.getByTestId('predict').click();
  const disagree = page.getByTestId('prompt-disagree');
  await expect(disagree).toBeVisible({ timeout: 60_000 });
  await expect(disagree).toContainText('The prompt wins');
});
