import { expect, type Page, test } from '@playwright/test';

// LIBERO as a robot in the studio: the Teleop page asks the server to launch a LIBERO task (its own
// process in LIBERO's environment, installed by packages/libero/scripts/venv.sh on first use), the
// robot connects back, Drive opens a session on it, and the cockpit draws on its camera, records,
// goes under the policy and stops, as it does with the sim.
const NAME = 'libero-spatial-t0-i1';

type Launched = { id: string; name: string; status: string };
const launched = async (page: Page): Promise<Launched[]> =>
  ((await (await page.request.get('/v1/remote-robots/launched')).json()) as { robots: Launched[] }).robots;

const stateOf = async (page: Page): Promise<number[]> =>
  (await page.getByTestId('robot-state').innerText())
    .split('\n')[1]!
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);

test.afterAll(async ({ request }) => {
  const { robots } = (await (await request.get('/v1/remote-robots/launched')).json()) as {
    robots: Launched[];
  };
  for (const r of robots) await request.delete(`/v1/remote-robots/launched/${r.id}`);
});

test('teleop LIBERO: start a task from the page, draw on its camera, record, Go, stop', async ({ page }) => {
  test.setTimeout(1_200_000); // a first run installs LIBERO's environment (~2 GB) before the scene
  const { sessions } = (await (await page.request.get('/v1/robots')).json()) as {
    sessions: { id: string }[];
  };
  for (const s of sessions) await page.request.delete(`/v1/robots/${s.id}`);
  await page.goto('/#/teleop');

  await page.getByTestId('libero-suite').selectOption('libero_spatial');
  await expect(page.getByTestId('libero-task')).toContainText('0: pick up the black bowl between the plate');
  await page.getByTestId('libero-task').selectOption('0');
  await page.getByTestId('libero-init').fill('1');
  await page.getByTestId('libero-launch').click();
  const status = page.getByTestId(`libero-status-${NAME}`);
  await expect(status).toHaveAttribute('data-status', /installing|starting|connected/);
  await expect(status).toHaveAttribute('data-status', 'connected', { timeout: 1_100_000 });
  // It is a remote robot now, listed as the others are.
  await expect(page.getByTestId(`remote-robot-${NAME}`)).toContainText('libero · agentview · 7-D actions');

  await page.getByTestId(`libero-drive-${NAME}`).click();
  await expect(page.getByTestId('link-indicator')).toContainText('open', { timeout: 120_000 });
  await expect(page.getByTestId('link-indicator')).toContainText(/[1-9]\d* fps/, { timeout: 120_000 });
  await expect(page.getByTestId('robot-state')).not.toContainText('—', { timeout: 60_000 });

  const box = (await page.getByTestId('canvas').boundingBox())!;
  await page.mouse.click(box.x + box.width * 0.5, box.y + box.height * 0.55);
  await expect(page.getByTestId('prompt-list').locator('li')).toHaveCount(1);
  await page.getByLabel('record to').fill('libero-teleop');
  await page.getByTestId('record').click();
  await expect(page.getByTestId('record')).toBeChecked();

  const before = await stateOf(page);
  await page.getByTestId('go').click();
  await expect(page.getByTestId('robot-mode')).toHaveText('go', { timeout: 30_000 });
  // The policy's actions move LIBERO's arm: the end effector leaves where it was.
  await expect
    .poll(
      async () => {
        const now = await stateOf(page);
        return Math.hypot(now[0]! - before[0]!, now[1]! - before[1]!, now[2]! - before[2]!);
      },
      { timeout: 120_000 },
    )
    .toBeGreaterThan(1e-3);
  await page.getByTestId('stop').click();
  await expect(page.getByTestId('robot-mode')).not.toHaveText('go', { timeout: 30_000 });
  await page.getByTestId('record').click();
  await expect(page.getByTestId('recorded')).toContainText(/saved episode \d+ to dataset libero-teleop/, {
    timeout: 60_000,
  });
  await page.screenshot({ path: 'screenshots/teleop-libero.png' });

  await page.getByRole('button', { name: 'Shut down session' }).click();
  await page.getByTestId(`libero-stop-${NAME}`).click();
  await expect
    .poll(async () => (await launched(page)).map((r) => r.name), { timeout: 30_000 })
    .not.toContain(NAME);
});
