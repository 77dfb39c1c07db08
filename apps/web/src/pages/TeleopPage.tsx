// Teleop: the live sim robot stream. Draw a prompt on the live frame, Go / Stop / E-stop (Esc),
// jog with the keyboard, record, start a new episode. Closing the tab stops the robot. A second tab
// on the same robot watches it (live view, Stop and E-STOP work) and may take control.
import { useEffect, useMemo, useRef, useState } from 'react';
import { useStore } from 'zustand';
import type { WireValue } from '@pixelvla/model';
import { Editor } from '../canvas/editor';
import { isTypingTarget } from '../app/keys';
import { CanvasView } from '../canvas/view/CanvasView';
import { HelpOverlay, Toolbar } from '../canvas/view/Toolbar';
import { CanvasStatus } from '../canvas/view/CanvasStatus';
import { PromptList } from '../canvas/view/PromptList';
import { useEditorState } from '../canvas/view/useEditor';
import { exportPrompts } from '../canvas/io/prompts';
import { useEncoder } from '../encoder/useEncoder';
import { EncoderBadge, encoderMatches } from '../encoder/EncoderBadge';
import { useMeta } from '../api/queries';
import { type RobotSessionInfo, useCreateRobot, useDeleteRobot, useRobotSessions } from '../api/robots';
import { RemoteRobots } from '../teleop/RemoteRobots';
import { type LinkStatus, type RobotLink, type TaskOutcome, useRobotLink } from '../teleop/link';
import { explainStop } from '../teleop/stopReason';
import { gripperDelta, jogDelta, jointForKey, jointsOf, layoutOf } from '../teleop/jog';
import { ActionOverlay } from '../actions/ActionOverlay';
import { projectedPath } from '../actions/path';

const TASKS = ['pick', 'place', 'pick_ambiguous', 'place_ambiguous'];
export function TeleopPage() {
  const sessions = useRobotSessions();
  const create = useCreateRobot();
  const remove = useDeleteRobot();
  const [task, setTask] = useState('pick');
  const [seed, setSeed] = useState(0);
  const [sessionId, setSessionId] = useState<string | null>(null);
  const list = sessions.data ?? [];

  return (
    <section className="workspace" data-testid="page-teleop">
      <aside className="sidebar">
        <h3>Sim robot episode</h3>
        <label className="field" title="The task: which objects and what the instruction asks">
          <span>Task</span>
          <select value={task} onChange={(e) => setTask(e.target.value)} data-testid="robot-task">
            {TASKS.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <label className="field" title="The scene's seed: the same seed gives the same objects and places">
          <span>Seed</span>
          <input
            type="number"
            value={seed}
            min={0}
            onChange={(e) => setSeed(Math.max(0, Math.floor(Number(e.target.value) || 0)))}
            data-testid="robot-seed"
            style={{ width: 80 }}
          />
        </label>
        <button
          type="button"
          className="primary"
          data-testid="new-robot"
          disabled={create.isPending}
          onClick={() =>
            create.mutate({ task, seed, cameras: ['front'] }, { onSuccess: (s) => setSessionId(s.id) })
          }
        >
          {create.isPending ? 'Starting sim…' : 'Start sim robot'}
        </button>
        {create.isError && <div className="errbox">{create.error.message}</div>}
        <RemoteRobots task={task} seed={seed} onStarted={setSessionId} />
        <h3>Sessions</h3>
        <div className="list" data-testid="robot-list">
          {list.map((s) => (
            <button
              key={s.id}
              type="button"
              aria-current={s.id === sessionId}
              onClick={() => setSessionId(s.id)}
            >
              {s.task} · seed {s.seed}
              <span className="sub">
                {s.mode} · {s.frames} frames{s.controller_connected ? ' · controlled' : ''}
              </span>
            </button>
          ))}
          {sessions.isSuccess && list.length === 0 && <p className="muted">No robot sessions.</p>}
        </div>
        {sessionId && (
          <button
            type="button"
            onClick={() => {
              remove.mutate(sessionId);
              setSessionId(null);
            }}
          >
            Shut down session
          </button>
        )}
      </aside>
      {sessionId ? (
        <Cockpit
          key={sessionId}
          sessionId={sessionId}
          robot={list.find((s) => s.id === sessionId)?.robot ?? null}
          next={{ task, seed }}
        />
      ) : (
        <Empty />
      )}
    </section>
  );
}

function Empty() {
  return (
    <>
      <div className="stage-col" style={{ alignItems: 'center', justifyContent: 'center' }}>
        <p className="muted">Start a sim robot (or pick a session) to drive it.</p>
      </div>
      <aside className="inspector" />
    </>
  );
}

/** The task and seed chosen in the sidebar: what "New episode" resets the robot to. */
type NextEpisode = { readonly task: string; readonly seed: number };

/** The robot as its session describes it (action names, limits, kind): what jog speaks. */
type RobotDescription = NonNullable<RobotSessionInfo['robot']>;

function Cockpit({
  sessionId,
  robot,
  next,
}: {
  sessionId: string;
  robot: RobotDescription | null;
  next: NextEpisode;
}) {
  const link = useRobotLink(sessionId);
  return link ? <CockpitView link={link} robot={robot} next={next} /> : <Empty />;
}

function CockpitView({
  link,
  robot,
  next,
}: {
  link: RobotLink;
  robot: RobotDescription | null;
  next: NextEpisode;
}) {
  const editor = useMemo(() => new Editor({ width: 224, height: 224 }, 'point'), []);
  const st = useStore(link.status);
  const [encoder, encStatus] = useEncoder();
  const meta = useMeta();
  const serverHash = meta.data?.model?.encoder_hash;
  const shapes = useEditorState(editor, (s) => s.shapes);
  const order = useEditorState(editor, (s) => s.order);
  const [instruction, setInstruction] = useState('');
  const [recordTo, setRecordTo] = useState('recordings');
  // Each episode starts from its task's instruction and a clean canvas: prompts drawn on the old
  // scene point at objects that are not there any more.
  const episodeKey = st.episode ? st.resets : null;
  const shownFor = useRef<number | null>(null);
  useEffect(() => {
    if (episodeKey === null || episodeKey === shownFor.current || !st.instruction) return;
    if (shownFor.current !== null) editor.clear();
    shownFor.current = episodeKey;
    setInstruction(st.instruction);
  }, [episodeKey, st.instruction, editor]);

  const sendPrompt = async (): Promise<void> => {
    const prompts = exportPrompts(editor);
    // Nothing drawn travels as nothing (a model with a text grounder then acts on the instruction);
    // a model that adds the container its grounder finds to the prompts needs them as JSON.
    const tokens =
      prompts.length > 0 && encoderMatches(encStatus, serverHash) && !meta.data?.model?.grounds_targets
        ? await encoder.encode(prompts)
        : null;
    link.prompt({
      instruction,
      prompts: prompts.filter((p) => p.type !== 'mask') as unknown as WireValue[],
      pixelMasks: prompts.flatMap((p) => (p.type === 'mask' ? [p.rle as unknown as WireValue] : [])),
      tokens,
      spec: meta.data?.model?.observation ?? null,
    });
  };
  // The policy's remaining plan, projected from the hand's position with the camera model.
  const planned = useMemo(
    () =>
      st.camera && st.state && st.plan.length > 0
        ? projectedPath(st.camera, [st.state[0]!, st.state[1]!, st.state[2]!], st.plan)
        : null,
    [st.camera, st.state, st.plan],
  );
  // While the robot runs, a changed drawing re-prompts it at once.
  const controlling = st.role === 'controller';
  const going = st.mode === 'go' && controlling;
  useEffect(() => {
    if (going) void sendPrompt();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shapes, order, going]);

  // Esc is the E-stop wherever the focus is, in any tab. Jog keys (teleop/jog.ts) speak the robot's
  // action space: for the sim's hand arrows / PageUp / PageDown (the gripper stays as it is), for an
  // arm's joints 1..9 pick one and arrows move it; O / C open and close the gripper. Controller only.
  const [joint, setJoint] = useState(0);
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === 'Escape') {
        link.estop();
        return; // the canvas still gets Escape to cancel a gesture
      }
      if (isTypingTarget(e.target) || e.ctrlKey || e.altKey || e.metaKey) return;
      if (link.status.getState().role !== 'controller') return;
      if (!robot) return; // the session's description has not arrived yet: no guessing its action space
      const key = e.key.toLowerCase();
      const picked = jointForKey(robot, e.key);
      const delta =
        key === 'o' || key === 'c'
          ? gripperDelta(robot, key === 'c')
          : jogDelta(robot, e.key, e.shiftKey, joint);
      if (picked !== null) setJoint(picked);
      else if (delta) link.jog(delta);
      else return;
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
  }, [link, robot, joint]);
  const layout = robot ? layoutOf(robot) : 'cartesian';

  return (
    <>
      <div className="stage-col" data-testid="teleop-stage" data-plan={planned ? 'projected' : 'none'}>
        <Toolbar editor={editor} />
        <CanvasView
          editor={editor}
          frame={st.frame}
          overlay={
            planned
              ? (toScreen) => <ActionOverlay path={planned} toScreen={toScreen} label="plan" />
              : undefined
          }
        />
        <CanvasStatus editor={editor}>
          <LinkIndicator st={st} />
        </CanvasStatus>
      </div>
      <aside className="inspector">
        <div className="row">
          <span className={`pill mode-${st.mode ?? 'none'}`} data-testid="robot-mode">
            {st.mode ?? '…'}
          </span>
          <span className="muted" data-testid="robot-role" data-role={st.role ?? 'none'}>
            {st.role === 'controller' ? 'controlling' : st.role === 'watcher' ? 'watching' : ''}
          </span>
          <span className="grow" />
          <label className="row" title="Record this run as an episode">
            <input
              type="checkbox"
              checked={st.recording}
              disabled={!controlling}
              onChange={async (e) => {
                const on = e.target.checked;
                // The episode is saved with the prompt on screen: send it before each record command.
                await sendPrompt();
                link.record(on, recordTo);
              }}
              data-testid="record"
            />
            <span className={st.recording ? 'rec-dot on' : 'rec-dot'} /> rec
          </label>
        </div>
        {st.role === 'watcher' && (
          <div className="muted" style={{ fontSize: 12 }} data-testid="watching">
            {st.roleNote ? `${st.roleNote[0]!.toUpperCase()}${st.roleNote.slice(1)}. ` : ''}
            Another client controls this robot: this tab shows its live view, and Stop and E-STOP work from
            here.{' '}
            <button type="button" onClick={() => link.takeControl()} data-testid="take-control">
              Take control
            </button>
          </div>
        )}
        <StopReason st={st} />
        <div className="row">
          <button
            type="button"
            className="primary grow"
            data-testid="go"
            disabled={st.link !== 'open' || st.mode === 'estopped' || !controlling}
            onClick={async () => {
              await sendPrompt();
              link.go();
            }}
          >
            Go
          </button>
          <button
            type="button"
            className="grow"
            data-testid="stop"
            disabled={st.link !== 'open'}
            onClick={() => link.stop()}
          >
            Stop
          </button>
        </div>
        <button
          type="button"
          className="danger estop"
          data-testid="estop"
          onClick={() => link.estop()}
          // A button that cannot reach the robot must not look as if it could.
          disabled={st.link !== 'open'}
          title={
            st.link === 'open'
              ? 'Emergency stop (Esc), from any tab watching or controlling this robot'
              : 'Not connected to the robot: this button cannot stop it'
          }
        >
          E-STOP <kbd>Esc</kbd>
        </button>
        {st.mode === 'estopped' && controlling && (
          <button type="button" onClick={() => link.resetEstop()} data-testid="reset-estop">
            Reset E-stop
          </button>
        )}
        <Outcome st={st} />
        <button
          type="button"
          data-testid="new-episode"
          disabled={st.link !== 'open' || !controlling || st.recording}
          title={
            st.recording ? 'Stop recording first' : 'Reset this robot to the task and seed chosen on the left'
          }
          onClick={() => link.reset(next.task, next.seed)}
        >
          New episode: {next.task}, seed {next.seed}
        </button>
        <label className="field" title="Dataset the recorded episodes are appended to">
          <span>record to</span>
          <input
            type="text"
            value={recordTo}
            onChange={(e) => setRecordTo(e.target.value)}
            disabled={st.recording}
            data-testid="record-to"
          />
        </label>
        {st.saved && (
          <p className="muted" style={{ margin: 0, fontSize: 12 }} data-testid="recorded">
            saved episode {st.saved.episode} to dataset {st.saved.dataset}
          </p>
        )}
        {st.lastError && <div className="errbox">{st.lastError}</div>}
        <div>
          <h3>Instruction</h3>
          <textarea
            rows={2}
            style={{ width: '100%' }}
            value={instruction}
            onChange={(e) => setInstruction(e.target.value)}
            data-testid="teleop-instruction"
          />
        </div>
        <EncoderBadge status={encStatus} serverHash={serverHash} />
        <div>
          <h3>Jog</h3>
          {layout === 'cartesian' ? (
            <p
              className="muted"
              style={{ margin: 0, fontSize: 12 }}
              data-testid="jog-help"
              data-layout="cartesian"
            >
              <kbd>←</kbd>
              <kbd>→</kbd> x · <kbd>↑</kbd>
              <kbd>↓</kbd> y · <kbd>PgUp</kbd>
              <kbd>PgDn</kbd> z · <kbd>O</kbd>/<kbd>C</kbd> gripper · Shift ×3
            </p>
          ) : (
            <p
              className="muted"
              style={{ margin: 0, fontSize: 12 }}
              data-testid="jog-help"
              data-layout="joints"
            >
              {robot &&
                jointsOf(robot)
                  .slice(0, 9)
                  .map((j, k) => (
                    <span key={j} style={{ fontWeight: j === joint ? 700 : undefined }}>
                      <kbd>{k + 1}</kbd> {robot.action_names[j]}{' '}
                    </span>
                  ))}
              · <kbd>↑</kbd>
              <kbd>↓</kbd> move · <kbd>O</kbd>/<kbd>C</kbd> gripper · Shift ×3
            </p>
          )}
        </div>
        <div>
          <h3>State</h3>
          <Readout
            names={robot?.state_names ?? ['x', 'y', 'z', 'roll', 'pitch', 'yaw', 'grip', 'width']}
            values={st.state}
            testId="robot-state"
          />
          <h3 style={{ marginTop: 8 }}>Last action</h3>
          <Readout
            names={robot?.action_names ?? ['dx', 'dy', 'dz', 'dr', 'dp', 'dyaw', 'grip']}
            values={st.action}
            testId="robot-action"
          />
        </div>
        <PromptList editor={editor} />
      </aside>
      <HelpOverlay editor={editor} />
    </>
  );
}

function Readout({
  names,
  values,
  testId,
}: {
  names: string[];
  values: readonly number[] | null;
  testId: string;
}) {
  return (
    <table className="actions" data-testid={testId}>
      <thead>
        <tr>
          {names.map((n) => (
            <th key={n}>{n}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        <tr>
          {names.map((n, i) => (
            <td key={n}>{values?.[i] !== undefined ? values[i].toFixed(3) : '—'}</td>
          ))}
        </tr>
      </tbody>
    </table>
  );
}

/** The episode and its task outcome, as an eval counts it: success, failure (the step budget spent
 * without success) or running, with steps and time since the reset. */
function Outcome({ st }: { st: LinkStatus }) {
  const o = st.outcome;
  if (!st.episode) return null;
  const budget = o?.max_steps ? ` / ${o.max_steps}` : '';
  const verdict = (o: TaskOutcome): string =>
    o.verdict === 'success'
      ? 'success'
      : o.verdict === 'failure'
        ? `failure: no success in ${o.max_steps} steps`
        : o.verdict === 'running'
          ? 'not done yet'
          : 'no success check';
  return (
    <div
      className="row"
      style={{ fontSize: 12 }}
      data-testid="task-outcome"
      data-verdict={o?.verdict ?? 'none'}
    >
      <span>
        {st.episode.task} · seed {st.episode.seed}
      </span>
      <span className="grow" />
      {o && (
        <span className={o.verdict === 'success' ? 'ok' : o.verdict === 'failure' ? 'error' : 'muted'}>
          {verdict(o)} · {o.steps}
          {budget} steps · {o.time_s.toFixed(1)} s
        </span>
      )}
    </div>
  );
}

/** Why the robot stopped, while it stays stopped (a later Go clears it): what happened, the numbers,
 * what to change. A dead-man stop is an error box: the studio was at the controls and lost them. */
function StopReason({ st }: { st: LinkStatus }) {
  const stop = st.stop;
  if (!stop || st.mode === 'go' || st.mode === 'idle' || st.mode === null) return null;
  return (
    <div
      className={stop.reason === 'deadman' || stop.reason === 'error' ? 'errbox' : 'muted'}
      style={{ fontSize: 12 }}
      data-testid="robot-stop"
      data-reason={stop.reason}
    >
      {explainStop(stop, st.linkStats, { watching: st.role === 'watcher' })}
    </div>
  );
}

function LinkIndicator({ st }: { st: LinkStatus }) {
  const stale = st.frameAgeMs !== null && st.frameAgeMs > 1000;
  const ok = st.link === 'open' && st.fps > 0 && !stale;
  const hb = st.linkStats;
  return (
    <span className="row" data-testid="link-indicator" title={st.closeReason ?? undefined}>
      <span className={`dot ${ok ? 'ok' : st.link === 'closed' || stale ? 'bad' : 'wait'}`} />
      <span>{st.link === 'closed' ? `disconnected (${st.closeReason})` : st.link}</span>
      <span className="num">{st.fps} fps</span>
      <span className="num">gap {st.frameGapMs !== null ? `${st.frameGapMs.toFixed(0)} ms` : '—'}</span>
      <span className="num">rtt {st.ackRttMs !== null ? `${st.ackRttMs.toFixed(1)} ms` : '—'}</span>
      {hb && (
        <span
          className="num"
          data-testid="heartbeat-stats"
          title={`Heartbeat gaps the server read over the last ${hb.window_s} s (limit ${hb.deadman_ms} ms): p50 ${hb.gap_p50_ms?.toFixed(0) ?? '—'} ms, max ${hb.gap_max_ms?.toFixed(0) ?? '—'} ms; its event-loop lag max ${hb.loop_lag_max_ms?.toFixed(0) ?? '—'} ms; this worker's timer gap max ${hb.worker_gap_max_ms.toFixed(0)} ms`}
        >
          hb p99 {hb.gap_p99_ms !== null ? `${hb.gap_p99_ms.toFixed(0)}/${hb.deadman_ms.toFixed(0)} ms` : '—'}
        </span>
      )}
      {stale && <span className="num error">stalled {(st.frameAgeMs! / 1000).toFixed(1)} s</span>}
      <span className="num">#{st.seq}</span>
    </span>
  );
}
