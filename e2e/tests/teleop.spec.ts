import { expect, test } from '@playwright/test';

const stateOf = async (text: string): Promise<number[]> =>
  text.split('\n')[1]!.split(/\s+/).filter(Boolean).map(Number);

test('teleop: start a sim robot, draw on the live frame, Go, see it move, E-stop with Esc', async ({
  page,
}) => {
  test.setTimeout(120_000);
  await page.goto('/#/teleop');
  await page.getByTestId('new-robot').click();
  await expect(page.getByTestId('link-indicator')).toContainText('open', { timeout: 60_000 });
  await expect(page.getByTestId('link-indicator')).toContainText(/[1-9]\d* fps/, { timeout: 30_000 });

  const box = (await page.getByTestId('canvas').boundingBox())!;
  await page.mouse.click(box.x + box.width * 0.55, box.y + box.height * 0.6);
  await expect(page.getByTestId('prompt-list').locator('li')).toHaveCount(1);

  const state = page.getByTestId('robot-state');
  await expect(state).not.toContainText('—', { timeout: 30_000 });

  // Keyboard jog while recording: the end effector moves along +x and the episode is saved.
  const start = await stateOf(await state.innerText());
  await page.getByTestId('record').click();
  await expect(page.getByTestId('record')).toBeChecked();
  for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
  await expect
    .poll(async () => (await stateOf(await state.innerText()))[0]! - start[0]!, { timeout: 15_000 })
    .toBeGreaterThan(0.03);
  await page.getByTestId('record').click();
  await expect(page.getByTestId('recorded')).toContainText(/saved episode \d+ to dataset recordings/, {
    timeout: 15_000,
  });

  const before = await stateOf(await state.innerText());

  await page.getByTestId('go').click();
  // The policy moves the end effector (or the dead man stops it, which the mode then says).
  await expect
    .poll(
      async () => {
        const now = await stateOf(await state.innerText());
        return Math.hypot(now[0]! - before[0]!, now[1]! - before[1]!, now[2]! - before[2]!);
      },
      { timeout: 30_000 },
    )
    .toBeGreaterThan(1e-3);

  // The policy's remaining chunk is drawn over the live frame, projected with the camera model.
  // Only while it runs: if the dead man stopped it on a loaded box (the mode says so), Go again,
  // as a user would; any other mode fails at once with the reason the server gave.
  const stops: string[] = [];
  await expect
    .poll(
      async () => {
        if ((await page.getByTestId('teleop-stage').getAttribute('data-plan')) === 'projected') return true;
        const mode = await page.getByTestId('robot-mode').innerText();
        const reasonEl = page.getByTestId('robot-mode-reason');
        const reason = (await reasonEl.count()) ? await reasonEl.innerText() : '';
        if (mode === 'stopped' && /dead/i.test(reason) && stops.length < 3) {
          stops.push(reason);
          await page.getByTestId('go').click();
        } else if (mode !== 'go') {
          throw new Error(`robot left go before a plan was drawn: ${mode} ${reason}`);
        }
        return false;
      },
      { timeout: 30_000 },
    )
    .toBe(true);
  if (stops.length) console.log(`dead-man stops before the plan was drawn: ${stops.join('; ')}`);
  await page.screenshot({ path: 'screenshots/teleop.png' });

  await page.keyboard.press('Escape');
  await expect(page.getByTestId('robot-mode')).toHaveText('estopped', { timeout: 10_000 });
  await expect(page.getByTestId('go')).toBeDisabled();
});
