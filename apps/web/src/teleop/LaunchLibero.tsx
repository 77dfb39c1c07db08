// "Start LIBERO task" on the Teleop page: the server launches a LIBERO task as a remote robot
// (POST /v1/remote-robots/launch; it installs LIBERO's environment on first use), the robot connects
// back and is listed with the other remote robots; "Drive" opens a session on it from the initial
// state it was launched with, which the cockpit drives as it drives the sim (draw, Go, record).
import { useState } from 'react';
import { useCreateRobot } from '../api/robots';
import {
  type LaunchRequest,
  useLaunchable,
  useLaunched,
  useLaunchRobot,
  useRemoteRobots,
  useStopLaunched,
} from '../api/remoteRobots';
import { clampInit, drivable, isRunning, launchPollMs, launchStatusText } from './launch';

type Suite = LaunchRequest['suite'];

export function LaunchLibero({ onStarted }: { onStarted: (sessionId: string) => void }) {
  const launchable = useLaunchable();
  const launched = useLaunched(launchPollMs);
  const remote = useRemoteRobots();
  const launch = useLaunchRobot();
  const stop = useStopLaunched();
  const create = useCreateRobot();
  const [suite, setSuite] = useState<Suite>('libero_spatial');
  const [taskId, setTaskId] = useState(0);
  const [init, setInit] = useState(0);

  const libero = launchable.data?.kinds.find((k) => k.kind === 'libero');
  const suites = libero?.suites ?? [];
  const tasks = suites.find((s) => s.suite === suite)?.tasks ?? [];
  const initStates = libero?.init_states ?? 50;
  const records = launched.data?.robots ?? [];
  const running = records.filter(isRunning).length;
  const full = launched.data !== undefined && running >= launched.data.max_running;

  return (
    <>
      <h3>LIBERO tasks</h3>
      <div className="list" data-testid="libero-launcher">
        <label className="field" title="The LIBERO suite (the paper's four)">
          <span>Suite</span>
          <select
            value={suite}
            data-testid="libero-suite"
            onChange={(e) => {
              setSuite(e.target.value as Suite);
              setTaskId(0);
            }}
          >
            {suites.map((s) => (
              <option key={s.suite} value={s.suite}>
                {s.suite}
              </option>
            ))}
          </select>
        </label>
        <label className="field" title="The task: its instruction is the robot's">
          <span>Task</span>
          <select
            value={taskId}
            data-testid="libero-task"
            onChange={(e) => setTaskId(Number(e.target.value))}
            style={{ maxWidth: 260 }}
          >
            {tasks.map((t) => (
              <option key={t.task_id} value={t.task_id}>
                {t.task_id}: {t.instruction}
              </option>
            ))}
          </select>
        </label>
        <label className="field" title={`One of the task's ${initStates} official initial states`}>
          <span>Initial state</span>
          <input
            type="number"
            min={0}
            max={initStates - 1}
            value={init}
            data-testid="libero-init"
            onChange={(e) => setInit(clampInit(Number(e.target.value), initStates))}
            style={{ width: 80 }}
          />
        </label>
        <button
          type="button"
          data-testid="libero-launch"
          disabled={!libero?.available || launch.isPending || full}
          title={
            full
              ? `At most ${launched.data?.max_running} launched robots run at once: stop one first`
              : 'The server starts this task as a remote robot (in its own process)'
          }
          onClick={() =>
            launch.mutate({ kind: 'libero', suite, task_id: taskId, init_index: init, image_size: 128 })
          }
        >
          {launch.isPending ? 'Starting…' : 'Start LIBERO task'}
        </button>
        {libero && !libero.available && <div className="errbox">{libero.message}</div>}
        {libero?.available && !libero.installed && (
          <p className="muted">
            The first start installs LIBERO&apos;s environment on the server (~2 GB, minutes).
          </p>
        )}
        {launchable.isError && <div className="errbox">{launchable.error.message}</div>}
        {launch.isError && <div className="errbox">{launch.error.message}</div>}
        {records.map((r) => {
          const robot = drivable(r, remote.data ?? []);
          return (
            <div key={r.id} className="launched" data-testid={`libero-launched-${r.name}`}>
              <div>
                <b>{r.name}</b>
                <span className="sub"> · {r.instruction}</span>
              </div>
              <div
                className={r.status === 'failed' || r.status === 'exited' ? 'errbox' : 'muted'}
                data-testid={`libero-status-${r.name}`}
                data-status={r.status}
              >
                {launchStatusText(r, libero?.installed ?? false)}
              </div>
              {robot && (
                <button
                  type="button"
                  className="primary"
                  data-testid={`libero-drive-${r.name}`}
                  disabled={create.isPending}
                  title={`Open a session on ${r.name} from initial state ${r.init_index}`}
                  onClick={() =>
                    create.mutate(
                      { robot: `remote:${r.name}`, seed: r.init_index },
                      { onSuccess: (s) => onStarted(s.id) },
                    )
                  }
                >
                  Drive
                </button>
              )}
              <button
                type="button"
                data-testid={`libero-stop-${r.name}`}
                disabled={stop.isPending}
                onClick={() => stop.mutate(r.id)}
              >
                {isRunning(r) ? 'Stop' : 'Dismiss'}
              </button>
              {r.log.length > 0 && (
                <details>
                  <summary>log</summary>
                  <pre style={{ whiteSpace: 'pre-wrap', fontSize: 11 }}>{r.log.join('\n')}</pre>
                </details>
              )}
            </div>
          );
        })}
        {create.isError && <div className="errbox">{create.error.message}</div>}
        {stop.isError && <div className="errbox">{stop.error.message}</div>}
      </div>
    </>
  );
}
