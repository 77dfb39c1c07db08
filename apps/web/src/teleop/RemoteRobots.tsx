// The Teleop page's remote robot picker: the robots connected through pixelvla_robot
// (docs/PROTOCOLS.md "Remote robots"). Driving one starts a robot session on it, which the cockpit
// then drives exactly as it drives the sim (draw, Go, Stop, Esc).
import { useCreateRobot } from '../api/robots';
import { useRemoteRobots } from '../api/remoteRobots';
import { LaunchLibero } from './LaunchLibero';

export function RemoteRobots({
  task,
  seed,
  onStarted,
}: {
  task: string;
  seed: number;
  onStarted: (sessionId: string) => void;
}) {
  const robots = useRemoteRobots();
  const create = useCreateRobot();
  const list = robots.data ?? [];
  return (
    <>
      <h3>Remote robots</h3>
      <div className="list" data-testid="remote-robots">
        {list.map((r) => (
          <button
            key={r.name}
            type="button"
            disabled={r.in_use || create.isPending}
            data-testid={`remote-robot-${r.name}`}
            title={
              r.in_use
                ? 'A session drives this robot: pick its session below'
                : `Start a session on ${r.name} (task and seed go to its reset)`
            }
            onClick={() =>
              create.mutate({ robot: `remote:${r.name}`, task, seed }, { onSuccess: (s) => onStarted(s.id) })
            }
          >
            {r.name}
            <span className="sub">
              {r.kind} · {r.cameras.map((c) => c.name).join(', ')} · {r.action_names.length}-D actions ·{' '}
              {r.control_hz} Hz{r.in_use ? ' · in use' : ''}
            </span>
          </button>
        ))}
        {robots.isSuccess && list.length === 0 && (
          <p className="muted">
            None connected. Run <code>python -m pixelvla_robot.sim --server ws://host:port --name NAME</code>{' '}
            (or another adapter) on the robot, or start a LIBERO task below.
          </p>
        )}
        {robots.isError && <div className="errbox">{robots.error.message}</div>}
      </div>
      {create.isError && <div className="errbox">{create.error.message}</div>}
      <LaunchLibero onStarted={onStarted} />
    </>
  );
}
