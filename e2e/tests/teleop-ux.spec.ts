// The teleop items of the "studio as people expect it" review: a second tab watches and can
// e-stop or take control, the gripper survives a jog, the task outcome and a new episode in the same
// session, a labelled seed box, and the prompt saved with a recording.
import { expect, type Page, test } from '@playwright/test';

type Session = { id: string; mode: string; frames: number };

const sessions = async (page: Page): Promise<Session[]> =>
  ((await (await page.request.get('/v1/robots')).json()) as { sessions: Session[] }).sessions;

/** The robot state readout's numbers: x, y, z, roll, pitch, yaw, grip, width. */
const stateOf = async (page: Page): Promise<number[]> =>
  (await page.getByTestId('robot-state').innerText())
    .split('\n')[1]!
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);

// At most 4 robot sessions per server: every test starts from none (other specs leave theirs).
test.beforeEach(async ({ page }) => {
  for (const s of await sessions(page)) await page.request.delete(`/v1/robots/${s.id}`);
});

async function startRobot(page: Page): Promise<string> {
  await page.goto('/#/teleop');
  await page.getByTestId('new-robot').click();
  await expect(page.getByTestId('link-indicator')).toContainText('open', { timeout: 60_000 });
  await expect(page.getByTestId('link-indicator')).toContainText(/[1-9]\d* fps/, { timeout: 30_000 });
  await expect(page.getByTestId('robot-state')).not.toContainText('—', { timeout: 30_000 });
  const [only] = await sessions(page);
  return only!.id;
}

test('a second tab watches the live robot, its E-STOP stops it, and it can take control', async ({
  page,
  context,
}) => {
  test.setTimeout(120_000);
  const id = await startRobot(page);
  const second = await context.newPage();
  await second.goto('/#/teleop');
  await second.getByTestId('robot-list').locator('button').first().click();
  // Not "this robot already has a controller" on a blank canvas: the live view, as a watcher.
  await expect(second.getByTestId('link-indicator')).toContainText(/[1-9]\d* fps/, { timeout: 30_000 });
  await expect(second.getByTestId('robot-state')).not.toContainText('—');
  await expect(page.getByTestId('robot-role')).toHaveText('controlling');
  await expect(second.getByTestId('robot-role')).toHaveText('watching');
  await expect(second.getByTestId('watching')).toContainText('Another client controls this robot');
  await expect(second.getByTestId('go')).toBeDisabled();

  // The watcher's E-STOP really stops the robot: the controlling tab and the server say so.
  await second.getByTestId('estop').click();
  await expect(page.getByTestId('robot-mode')).toHaveText('estopped', { timeout: 10_000 });
  await expect(page.getByTestId('robot-stop')).toContainText('from a watching client');
  await expect(page.getByTestId('go')).toBeDisabled();
  expect(((await (await page.request.get(`/v1/robots/${id}`)).json()) as Session).mode).toBe('estopped');

  // Taking control is explicit; the first tab becomes the watcher and is told why.
  await second.getByTestId('take-control').click();
  await expect(second.getByTestId('robot-role')).toHaveText('controlling', { timeout: 10_000 });
  await expect(page.getByTestId('robot-role')).toHaveText('watching', { timeout: 10_000 });
  await expect(page.getByTestId('watching')).toContainText('Another client took control');
  await second.getByTestId('reset-estop').click();
  await expect(second.getByTestId('robot-mode')).toHaveText('idle', { timeout: 10_000 });
  await expect(page.getByTestId('robot-mode')).toHaveText('idle', { timeout: 10_000 });
  await second.screenshot({ path: 'screenshots/teleop-watcher.png' });
  await second.close();
});

test('a jog moves the hand and keeps the gripper closed; only O/C change it', async ({ page }) => {
  test.setTimeout(120_000);
  await startRobot(page);
  await page.keyboard.press('c');
  await expect.poll(async () => (await stateOf(page))[6], { timeout: 15_000 }).toBe(1);
  const start = await stateOf(page);
  for (let i = 0; i < 2; i++) await page.keyboard.press('ArrowRight');
  await expect
    .poll(async () => (await stateOf(page))[0]! - start[0]!, { timeout: 15_000 })
    .toBeGreaterThan(0.03);
  expect((await stateOf(page))[6]).toBe(1); // still closed: a held object stays held
  await page.keyboard.press('o');
  await expect.poll(async () => (await stateOf(page))[6], { timeout: 15_000 }).toBe(0);
});

test('the task outcome is shown and a new episode resets the same session', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/#/teleop');
  // The seed box has a visible label (not only an aria-label).
  await expect(page.locator('label', { hasText: 'Seed' }).locator('input[type="number"]')).toHaveCount(1);
  await startRobot(page);
  const outcome = page.getByTestId('task-outcome');
  await expect(outcome).toContainText('pick · seed 0');
  await expect(outcome).toContainText(/not done yet · 0 \/ 80 steps · 0\.0 s/);
  await page.keyboard.press('ArrowUp');
  await expect(outcome).toContainText(/not done yet · 1 \/ 80 steps · \d+\.\d s/, { timeout: 15_000 });
  const canvas = (await page.getByTestId('canvas').boundingBox())!;
  await page.mouse.click(canvas.x + canvas.width * 0.5, canvas.y + canvas.height * 0.5);
  await expect(page.getByTestId('prompt-list').locator('li')).toHaveCount(1);

  await page.getByTestId('robot-task').selectOption('place');
  await page.getByTestId('robot-seed').fill('5');
  await page.getByTestId('new-episode').click();
  await expect(outcome).toContainText('place · seed 5', { timeout: 30_000 });
  await expect(outcome).toContainText('0 / 80 steps');
  await expect(page.getByTestId('teleop-instruction')).toHaveValue(/put/);
  await expect(page.getByTestId('prompt-list').locator('li')).toHaveCount(0); // drawn on the old scene
  // The same session, reset: no second session left rendering the old scene.
  const all = await sessions(page);
  expect(all.length).toBe(1);
  await page.screenshot({ path: 'screenshots/teleop-outcome.png' });
});

test('a recording is saved with the teleop prompt it was driven with', async ({ page }) => {
  test.setTimeout(120_000);
  await startRobot(page);
  const box = (await page.getByTestId('canvas').boundingBox())!;
  await page.mouse.click(box.x + box.width * 0.4, box.y + box.height * 0.6);
  await expect(page.getByTestId('prompt-list').locator('li')).toHaveCount(1);
  await page.getByTestId('teleop-instruction').fill('pick up the cube I point at');
  await page.getByLabel('record to').fill('teleop-prompted');
  await page.getByTestId('record').click();
  await expect(page.getByTestId('record')).toBeChecked();
  const start = await stateOf(page);
  await page.keyboard.press('ArrowLeft');
  await expect
    .poll(async () => start[0]! - (await stateOf(page))[0]!, { timeout: 15_000 })
    .toBeGreaterThan(0.01);
  await page.getByTestId('record').click();
  const saved = page.getByTestId('recorded');
  await expect(saved).toContainText(/saved episode \d+ to dataset teleop-prompted/, { timeout: 30_000 });
  const episode = Number(/episode (\d+)/.exec(await saved.innerText())![1]);
  const ann = (await (
    await page.request.get(`/v1/datasets/teleop-prompted/episodes/${episode}/annotations`)
  ).json()) as { sidecar: { task: string; source: { instruction: string; prompts: { type: string }[] } } };
  expect(ann.sidecar.task).toBe('pick up the cube I point at');
  expect(ann.sidecar.source.instruction).toBe('pick up the cube I point at');
  expect(ann.sidecar.source.prompts.map((p) => p.type)).toEqual(['point']);
});
