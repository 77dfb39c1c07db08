import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { SERVER_URL } from './fixtures';

// A remote robot: the MuJoCo sim in ANOTHER process, connected to the e2e server through
// pixelvla_robot (packages/robot-client), driven from the Teleop page like the built-in sim.
const root = fileURLToPath(new URL('../..', import.meta.url));
const NAME = 'e2e-remote-arm';

type RobotEvent = { event: string; t: number; [k: string]: unknown };
let robot: ChildProcess | undefined;
const events: RobotEvent[] = [];
const seen = (kind: string): number => events.filter((e) => e.event === kind).length;

test.beforeAll(() => {
  robot = spawn(
    `${root}/.venv/bin/python`,
    ['-m', 'pixelvla_robot.sim', '--server', SERVER_URL.replace(/^http/, 'ws'), '--name', NAME, '--events'],
    { cwd: root, env: { ...process.env, MUJOCO_GL: 'osmesa', PYOPENGL_PLATFORM: 'osmesa' }, stdio: 'pipe' },
  );
  createInterface({ input: robot.stdout! }).on('line', (line) => events.push(JSON.parse(line) as RobotEvent));
  robot.stderr!.on('data', (d: Buffer) => process.stderr.write(`[remote robot] ${d.toString()}`));
});

test.afterAll(() => {
  robot?.kill('SIGKILL');
});

const stateOf = (text: string): number[] => text.split('\n')[1]!.split(/\s+/).filter(Boolean).map(Number);

test('teleop remote: a sim robot in another process is picked, drawn on, Go moves it, Esc stops it', async ({
  page,
}) => {
  test.setTimeout(120_000);
  await page.goto('/#/teleop');
  // The robot process announces itself; the picker lists it within its poll.
  const pick = page.getByTestId(`remote-robot-${NAME}`);
  await expect(pick).toBeEnabled({ timeout: 60_000 });
  await expect(pick).toContainText('sim · front · 7-D actions');
  await pick.click();
  await expect(page.getByTestId('link-indicator')).toContainText('open', { timeout: 60_000 });
  await expect(page.getByTestId('link-indicator')).toContainText(/[1-9]\d* fps/, { timeout: 30_000 });
  await expect(pick).toContainText('in use', { timeout: 10_000 });

  const box = (await page.getByTestId('canvas').boundingBox())!;
  await page.mouse.click(box.x + box.width * 0.55, box.y + box.height * 0.6);
  await expect(page.getByTestId('prompt-list').locator('li')).toHaveCount(1);

  const state = page.getByTestId('robot-state');
  await expect(state).not.toContainText('—', { timeout: 30_000 });
  const before = stateOf(await state.innerText());
  const actedBefore = seen('acted');

  await page.getByTestId('go').click();
  await expect(page.getByTestId('robot-mode')).toHaveText('go', { timeout: 15_000 });
  // The policy's actions are executed by the other process, and its frames show the hand moving.
  await expect
    .poll(
      () => {
        return state.innerText().then((text) => {
          const now = stateOf(text);
          return Math.hypot(now[0]! - before[0]!, now[1]! - before[1]!, now[2]! - before[2]!);
        });
      },
      { timeout: 30_000 },
    )
    .toBeGreaterThan(1e-3);
  expect(seen('acted')).toBeGreaterThan(actedBefore);
  await page.screenshot({ path: 'screenshots/teleop-remote.png' });

  await page.keyboard.press('Escape');
  await expect(page.getByTestId('robot-mode')).toHaveText('estopped', { timeout: 10_000 });
  // The robot's process was told to stop, and it executes nothing more.
  await expect.poll(() => seen('stopped'), { timeout: 10_000 }).toBeGreaterThan(0);
  const actedAtStop = seen('acted');
  const held = stateOf(await state.innerText());
  const seqOf = async (): Promise<number> =>
    Number(/#(-?\d+)/.exec(await page.getByTestId('link-indicator').innerText())?.[1] ?? -1);
  const from = await seqOf();
  await expect.poll(seqOf, { timeout: 15_000 }).toBeGreaterThanOrEqual(from + 5); // five more frames
  // The hand holds its pose and the gripper its command. The physics goes on (a stopped sim still
  // steps to hold), so the measured finger width (the last column) may still settle by a millimetre
  // or two; a robot still acting would move its hand centimetres in five frames.
  const now = stateOf(await state.innerText());
  for (const i of [0, 1, 2]) expect(Math.abs(now[i]! - held[i]!)).toBeLessThanOrEqual(0.002);
  for (const i of [3, 4, 5]) expect(Math.abs(now[i]! - held[i]!)).toBeLessThanOrEqual(0.01);
  expect(now[6]).toBe(held[6]);
  expect(seen('acted')).toBe(actedAtStop);

  // Shut the session down: the robot is free for the next one.
  await page.getByRole('button', { name: 'Shut down session' }).click();
  await expect(pick).not.toContainText('in use', { timeout: 15_000 });
});
