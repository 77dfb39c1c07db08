import { expect, test } from '@playwright/test';

const stateOf = async (text: string): Promise<number[]> =>
  text.split('\n')[1]!.split(/\s+/).filter(Boolean).map(Number);

test('teleop: start a sim robot, draw on the live frame, Go through main-thread jank, E-stop with Esc', async ({
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
  const seqOf = async (): Promise<number> =>
    Number(/#(-?\d+)/.exec(await page.getByTestId('link-indicator').innerText())?.[1] ?? -1);
  // Any stop while the test drives fails it at once, with the studio's own words for why.
  const stillGoing = async (): Promise<void> => {
    const mode = await page.getByTestId('robot-mode').innerText();
    if (mode !== 'go') {
      const why = page.getByTestId('robot-stop');
      throw new Error(
        `robot left go: ${mode}: ${(await why.count()) ? await why.innerText() : '(no reason shown)'}`,
      );
    }
  };
  // Frames arrive in order after any status message, so once a few more frames are on screen the
  // mode shown is the server's mode after whatever happened before them.
  const framesPass = async (n: number): Promise<void> => {
    const from = await seqOf();
    await expect.poll(seqOf, { timeout: 15_000 }).toBeGreaterThanOrEqual(from + n);
  };

  await page.getByTestId('go').click();
  await expect(page.getByTestId('robot-mode')).toHaveText('go', { timeout: 15_000 });
  // The policy moves the end effector.
  await expect
    .poll(
      async () => {
        await stillGoing();
        const now = await stateOf(await state.innerText());
        return Math.hypot(now[0]! - before[0]!, now[1]! - before[1]!, now[2]! - before[2]!);
      },
      { timeout: 30_000 },
    )
    .toBeGreaterThan(1e-3);

  // The page's main thread blocked for 500 ms, three times, while the robot runs: React, the canvas
  // and this busy loop share that thread; the heartbeats come from the link's worker, so the
  // server's dead man (200 ms) hears them all the same.
  for (let i = 0; i < 3; i++) {
    await page.evaluate(() => {
      const t0 = performance.now();
      while (performance.now() - t0 < 500);
    });
    await framesPass(3);
    await stillGoing();
  }

  // The policy's remaining chunk is drawn over the live frame, projected with the camera model.
  await expect
    .poll(
      async () => {
        await stillGoing();
        return page.getByTestId('teleop-stage').getAttribute('data-plan');
      },
      { timeout: 30_000 },
    )
    .toBe('projected');
  await page.screenshot({ path: 'screenshots/teleop.png' });

  // A page frozen past the studio's limit (2 s) cannot take Stop or E-stop: the worker stops the
  // robot itself and the cockpit says why. That is a stop the studio sent, not the dead man's.
  await page.evaluate(() => {
    const t0 = performance.now();
    while (performance.now() - t0 < 2600);
  });
  await expect(page.getByTestId('robot-stop')).toContainText('studio page unresponsive', { timeout: 10_000 });
  await expect(page.getByTestId('robot-mode')).toHaveText('stopped');
  await page.screenshot({ path: 'screenshots/teleop-stopped.png' });

  await page.keyboard.press('Escape');
  await expect(page.getByTestId('robot-mode')).toHaveText('estopped', { timeout: 10_000 });
  await expect(page.getByTestId('robot-stop')).toHaveAttribute('data-reason', 'estop');
  await expect(page.getByTestId('go')).toBeDisabled();

  // Over the whole drive the dead man never fired; the server's numbers for the link, for the log.
  const { sessions } = (await (await page.request.get('/v1/robots')).json()) as {
    sessions: { deadman_stops: number; link: Record<string, unknown> }[];
  };
  console.log(`teleop link: ${JSON.stringify(sessions.map((s) => s.link))}`);
  expect(sessions.length).toBeGreaterThan(0);
  expect(sessions.map((s) => s.deadman_stops)).toEqual(sessions.map(() => 0));
});
