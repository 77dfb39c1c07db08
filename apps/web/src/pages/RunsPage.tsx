// Runs: launch base / stage 1 / stage 2 / eval from a form built from the config schema, watch the
// queue with live progress and loss curves, read logs, cancel / resume / delete, compare any
// number of runs, read an eval's results as tables and charts, deploy a finished run.
//
// The launch form never launches what it does not show: an invalid field blocks it (no silent
// default behind a red field), and the summary above the button is the request it sends (stage,
// dataset, start-from, overrides). The start-from model is chosen once and then only by the person.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { useDatasets } from '../api/datasets';
import {
  type Run,
  type RunCreate,
  type RunStage,
  useCancelRun,
  useConfigSchema,
  useCreateRun,
  useDeleteRun,
  useDeployRun,
  useLoadModel,
  useManyRunMetrics,
  useModels,
  useResumeRun,
  useRunEval,
  useRunLogs,
  useRunMetrics,
  useRuns,
} from '../api/runs';
import { SchemaForm } from '../runs/SchemaForm';
import { type RawForm, describeOverrides, readForm } from '../runs/schema';
import { type Curve, LossChart } from '../runs/LossChart';
import { EvalView } from '../runs/EvalView';
import { fmtDuration, fmtTime, fmtValue, logLines, pct } from '../runs/format';

const STAGES: readonly RunStage[] = ['stage1', 'stage2', 'base', 'eval'];
const LIVE = new Set(['queued', 'running']);

/** "run-<id> · my run (stage2)" for models that are deployed runs, the id otherwise. */
function modelLabel(id: string, runs: readonly Run[]): string {
  const r = runs.find((x) => x.model === id);
  return r ? `${r.name} (${r.stage}, ${id})` : id;
}

export function RunsPage() {
  const runs = useRuns();
  const [selected, setSelected] = useState<string | null>(null);
  const [compare, setCompare] = useState<string[]>([]);
  const list = useMemo(() => [...(runs.data ?? [])].sort((a, b) => b.created_at - a.created_at), [runs.data]);
  const current = list.find((r) => r.id === selected) ?? null;
  const compared = list.filter((r) => compare.includes(r.id));
  return (
    <section className="workspace runs" data-testid="page-runs">
      <aside className="sidebar">
        <LaunchForm runs={list} onLaunched={(r) => setSelected(r.id)} />
        <ServedModel runs={list} />
      </aside>
      <div className="runs-main">
        <div className="row">
          <h3 className="grow">Queue</h3>
          <span className="muted" data-testid="compare-hint">
            {compared.length >= 2
              ? `comparing ${compared.length} runs`
              : 'tick ⇄ on two or more runs to compare them (any number)'}
          </span>
          {compared.length > 0 && (
            <button type="button" onClick={() => setCompare([])}>
              Clear comparison
            </button>
          )}
        </div>
        <table className="runs-table" data-testid="runs-table">
          <thead>
            <tr>
              <th title="compare">⇄</th>
              <th>name</th>
              <th>stage</th>
              <th>status</th>
              <th style={{ width: '26%' }}>progress</th>
              <th>loss / success</th>
              <th>samples/s</th>
              <th>created</th>
              <th>took</th>
            </tr>
          </thead>
          <tbody>
            {list.map((r) => {
              const p = r.progress;
              const frac = p?.total_steps ? p.step / p.total_steps : r.status === 'succeeded' ? 1 : 0;
              const unit = r.stage === 'eval' ? 'episodes' : 'steps';
              return (
                <tr
                  key={r.id}
                  aria-selected={r.id === selected}
                  onClick={() => setSelected(r.id)}
                  data-run={r.id}
                  data-status={r.status}
                >
                  <td onClick={(e) => e.stopPropagation()}>
                    <input
                      type="checkbox"
                      aria-label={`compare ${r.name}`}
                      checked={compare.includes(r.id)}
                      onChange={(e) =>
                        setCompare(e.target.checked ? [...compare, r.id] : compare.filter((x) => x !== r.id))
                      }
                    />
                  </td>
                  <td>{r.name}</td>
                  <td>{r.stage}</td>
                  <td>
                    <span className={`pill status-${r.status}`}>{r.status}</span>
                  </td>
                  <td>
                    <div className="bar" title={p ? `${p.step} / ${p.total_steps ?? '?'} ${unit}` : ''}>
                      <div style={{ width: `${Math.round(frac * 100)}%` }} />
                      <span className="num">{p ? `${p.step}/${p.total_steps ?? '?'}` : '—'}</span>
                    </div>
                  </td>
                  <td className="num">
                    {r.stage === 'eval' ? '' : p?.loss != null ? p.loss.toFixed(4) : '—'}
                  </td>
                  <td className="num">{p?.samples_per_s != null ? p.samples_per_s.toFixed(1) : '—'}</td>
                  <td className="num muted" title={fmtTime(r.created_at)}>
                    {new Date(r.created_at * 1000).toLocaleString(undefined, {
                      month: 'short',
                      day: 'numeric',
                      hour: '2-digit',
                      minute: '2-digit',
                    })}
                  </td>
                  <td className="num muted">
                    {r.started_at ? fmtDuration((r.finished_at ?? Date.now() / 1000) - r.started_at) : '—'}
                  </td>
                </tr>
              );
            })}
            {runs.isSuccess && list.length === 0 && (
              <tr>
                <td colSpan={9} className="muted">
                  No runs yet: launch one on the left.
                </td>
              </tr>
            )}
          </tbody>
        </table>
        {compared.length >= 2 && <Compare runs={compared} />}
        {current && <RunDetail key={current.id} run={current} onDeleted={() => setSelected(null)} />}
      </div>
    </section>
  );
}

function LaunchForm({ runs, onLaunched }: { runs: readonly Run[]; onLaunched: (r: Run) => void }) {
  const datasets = useDatasets();
  const models = useModels();
  const create = useCreateRun();
  const [stage, setStage] = useState<RunStage>('stage2');
  const [dataset, setDataset] = useState('');
  // Start-from per stage, as the person chose it. Until then a stage after base starts from the
  // model served when the page opened: written in the select and the summary, and never changed
  // behind the person's back when another model is served later.
  const [starts, setStarts] = useState<Partial<Record<RunStage, string>>>({});
  const [servedAtOpen, setServedAtOpen] = useState<string | null>(null);
  useEffect(() => {
    if (servedAtOpen === null && models.data) setServedAtOpen(models.data.loaded ?? '');
  }, [models.data, servedAtOpen]);
  const [name, setName] = useState('');
  // Entries per schema title (TrainConfig, EvalConfig): switching stages keeps what was typed.
  const [raws, setRaws] = useState<Record<string, RawForm>>({});
  const schema = useConfigSchema(stage);
  const ds = datasets.data?.datasets ?? [];
  const raw = schema.data ? (raws[schema.data.title] ?? {}) : {};
  const read = schema.data ? readForm(schema.data, raw) : null;
  const startFrom = starts[stage] ?? (stage === 'base' ? '' : (servedAtOpen ?? ''));
  const chosenDataset = dataset || ds[0]?.id || '';
  const trains = stage !== 'eval';

  const problems: string[] = [];
  if (read)
    for (const [k, why] of Object.entries(read.errors)) problems.push(`${k.replace(/_/g, ' ')}: ${why}`);
  if (stage !== 'base' && !startFrom)
    problems.push(
      `start from: a ${stage} run ${stage === 'eval' ? 'evaluates' : 'starts from'} a model; choose one`,
    );
  if (trains && !chosenDataset) problems.push('dataset: the server has none to train on');
  const request: RunCreate | null =
    read && problems.length === 0
      ? {
          stage,
          name: name.trim() || null,
          dataset: trains ? chosenDataset : null,
          base_checkpoint: startFrom || null,
          overrides: read.overrides,
        }
      : null;
  const servedNote =
    startFrom && startFrom === servedAtOpen && starts[stage] === undefined
      ? ' (served when this page opened)'
      : '';

  return (
    <form
      data-testid="launch-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (request) create.mutate(request, { onSuccess: onLaunched });
      }}
    >
      <h3>Launch a run</h3>
      <label className="field">
        <span>stage</span>
        <select value={stage} onChange={(e) => setStage(e.target.value as RunStage)} name="stage">
          {STAGES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </label>
      <label className="field" hidden={!trains}>
        <span>dataset</span>
        <select value={chosenDataset} onChange={(e) => setDataset(e.target.value)} name="dataset">
          {ds.map((d) => (
            <option key={d.id} value={d.id}>
              {d.id} ({d.num_episodes} ep)
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>{stage === 'eval' ? 'model' : 'start from'}</span>
        <select
          value={startFrom}
          onChange={(e) => setStarts({ ...starts, [stage]: e.target.value })}
          name="base"
        >
          <option value="">{stage === 'base' ? '(from scratch)' : '(choose a model)'}</option>
          {(models.data?.models ?? []).map((m) => (
            <option key={m.id} value={m.id}>
              {modelLabel(m.id, runs)}
              {m.loaded ? ' · served now' : ''}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>name</span>
        <input
          type="text"
          value={name}
          placeholder="auto"
          onChange={(e) => setName(e.target.value)}
          name="name"
        />
      </label>
      {schema.data && read ? (
        <>
          <h3 style={{ marginTop: 10 }}>
            {schema.data.title} <span className="muted">({Object.keys(read.overrides).length} changed)</span>
          </h3>
          <SchemaForm
            key={schema.data.title}
            schema={schema.data}
            raw={raw}
            read={read}
            onChange={(r) => setRaws({ ...raws, [schema.data.title]: r })}
          />
        </>
      ) : schema.isError ? (
        <div className="errbox">config schema: {schema.error.message}</div>
      ) : (
        <p className="muted">Loading the {stage} config…</p>
      )}
      <div className="launch-summary" data-testid="launch-summary">
        {request ? (
          <>
            <b>Will run:</b> {stage}
            {request.dataset ? ` on ${request.dataset}` : ''}
            {stage === 'eval'
              ? ` of ${request.base_checkpoint} in the simulator`
              : request.base_checkpoint
                ? `, starting from ${request.base_checkpoint}${servedNote}`
                : ', from scratch'}
            {request.name ? `, named “${request.name}”` : ''}. Overrides:{' '}
            <span className="num" data-testid="launch-overrides">
              {describeOverrides(read!.overrides)}
            </span>
          </>
        ) : problems.length > 0 ? (
          <div className="errbox" data-testid="launch-problems">
            <b>Cannot launch yet:</b>
            <ul>
              {problems.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          </div>
        ) : (
          '…'
        )}
      </div>
      <button
        type="submit"
        className="primary"
        style={{ width: '100%', marginTop: 8 }}
        disabled={create.isPending || request === null}
        data-testid="launch"
      >
        {create.isPending ? 'Launching…' : `Launch ${stage}`}
      </button>
      {create.isError && <div className="errbox">{create.error.message}</div>}
    </form>
  );
}

/** Which registry bundle the policy server serves; switching hot-swaps it (streams keep going). */
function ServedModel({ runs }: { runs: readonly Run[] }) {
  const models = useModels();
  const load = useLoadModel();
  const loaded = models.data?.loaded ?? '';
  return (
    <div data-testid="served-model" style={{ marginTop: 16 }}>
      <h3>Served model</h3>
      <label className="field">
        <span>model</span>
        <select
          value={load.isPending ? (load.variables ?? loaded) : loaded}
          disabled={load.isPending || models.data?.loading != null}
          onChange={(e) => load.mutate(e.target.value)}
          name="served-model"
        >
          {!loaded && <option value="">(none loaded)</option>}
          {(models.data?.models ?? []).map((m) => (
            <option key={m.id} value={m.id}>
              {modelLabel(m.id, runs)}
            </option>
          ))}
        </select>
      </label>
      {load.isPending && <p className="muted">Loading and warming up…</p>}
      {load.isError && <div className="errbox">{load.error.message}</div>}
      {models.data?.load_error && <div className="errbox">{models.data.load_error}</div>}
    </div>
  );
}

function curveOf(label: string, records: readonly Record<string, unknown>[], key = 'loss'): Curve {
  const pts = records.filter((r) => typeof r.step === 'number' && typeof r[key] === 'number');
  return { label, steps: pts.map((r) => r.step as number), values: pts.map((r) => r[key] as number) };
}

function RunDetail({ run, onDeleted }: { run: Run; onDeleted: () => void }) {
  const live = LIVE.has(run.status);
  const isEval = run.stage === 'eval';
  const metrics = useRunMetrics(run.id, live);
  const logs = useRunLogs(run.id, live);
  const evalResult = useRunEval(run.id, isEval, live);
  const cancel = useCancelRun();
  const resume = useResumeRun();
  const deploy = useDeployRun();
  const remove = useDeleteRun();
  const models = useModels();
  const [confirmDelete, setConfirmDelete] = useState(false);
  const records = useMemo(() => metrics.data?.records ?? [], [metrics.data]);
  const curves = useMemo(() => [curveOf(run.name, records)], [run.name, records]);
  const served = models.data?.loaded === run.model;
  const took = run.started_at ? (run.finished_at ?? Date.now() / 1000) - run.started_at : null;
  const overrides = Object.entries(run.overrides);
  return (
    <div className="run-detail" data-testid="run-detail">
      <div className="row">
        <h3 className="grow" style={{ margin: 0 }}>
          {run.name} <span className="muted">· {run.id}</span>
        </h3>
        {live && (
          <button type="button" onClick={() => cancel.mutate(run.id)} data-testid="cancel-run">
            Cancel
          </button>
        )}
        {(run.status === 'failed' || run.status === 'cancelled') && (
          <button type="button" onClick={() => resume.mutate(run.id)} data-testid="resume-run">
            Resume
          </button>
        )}
        {run.has_bundle && (
          <button
            type="button"
            className="primary"
            onClick={() => deploy.mutate(run.id)}
            disabled={served || deploy.isPending}
            title={`Add this run's bundle to the model registry as ${run.model} and serve it`}
            data-testid="deploy-run"
          >
            {served ? 'Deployed' : deploy.isPending ? 'Deploying…' : 'Deploy'}
          </button>
        )}
        {!live &&
          (confirmDelete ? (
            <span className="row" data-testid="confirm-delete">
              <span className="error">Delete this run and its folder?</span>
              <button
                type="button"
                className="danger"
                onClick={() => remove.mutate(run.id, { onSuccess: onDeleted })}
                disabled={remove.isPending}
                data-testid="confirm-delete-run"
              >
                {remove.isPending ? 'Deleting…' : 'Delete'}
              </button>
              <button type="button" onClick={() => setConfirmDelete(false)}>
                Keep
              </button>
            </span>
          ) : (
            <button
              type="button"
              onClick={() => setConfirmDelete(true)}
              title={
                served
                  ? 'Delete the run (its deployed copy stays in the model registry)'
                  : 'Delete the run: its registry entry, checkpoints, logs and bundle'
              }
              data-testid="delete-run"
            >
              Delete…
            </button>
          ))}
      </div>
      {run.error && <div className="errbox">{run.error}</div>}
      {deploy.isError && <div className="errbox">{deploy.error.message}</div>}
      {remove.isError && <div className="errbox">{remove.error.message}</div>}
      <dl className="run-facts" data-testid="run-facts">
        <dt>stage</dt>
        <dd>{run.stage}</dd>
        {!isEval && (
          <>
            <dt>dataset</dt>
            <dd>{run.dataset ?? '—'}</dd>
          </>
        )}
        <dt>{isEval ? 'model' : 'from'}</dt>
        <dd>{run.base_checkpoint ?? 'scratch'}</dd>
        <dt>created</dt>
        <dd data-testid="run-created">{fmtTime(run.created_at)}</dd>
        <dt>started</dt>
        <dd>{fmtTime(run.started_at)}</dd>
        <dt>finished</dt>
        <dd>{fmtTime(run.finished_at)}</dd>
        <dt>took</dt>
        <dd>{fmtDuration(took)}</dd>
        <dt>attempts</dt>
        <dd>
          {run.attempts}
          {run.resumed ? ' (resumed)' : ''}
        </dd>
        <dt>overrides</dt>
        <dd className="num">
          {overrides.length === 0
            ? 'none'
            : overrides
                .map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(', ')}]` : fmtValue(v)}`)
                .join(', ')}
        </dd>
        {!isEval && (
          <>
            <dt>checkpoints</dt>
            <dd>{run.checkpoints.join(', ') || 'none'}</dd>
          </>
        )}
      </dl>
      {isEval ? (
        evalResult.data ? (
          <EvalView result={evalResult.data} />
        ) : evalResult.isError ? (
          <div className="errbox">{evalResult.error.message}</div>
        ) : (
          <p className="muted" data-testid="eval-pending">
            {live
              ? `Evaluating: ${run.progress ? `${run.progress.step} of ${run.progress.total_steps ?? '?'} episodes` : 'starting'}…`
              : run.status === 'succeeded'
                ? 'Loading the results…'
                : 'This evaluation wrote no results.'}
          </p>
        )
      ) : curves[0]!.steps.length > 0 ? (
        <LossChart curves={curves} />
      ) : (
        <p className="muted">{live ? 'Waiting for the first loss…' : 'This run recorded no loss.'}</p>
      )}
      <h3>Log</h3>
      <LogView lines={logs.data ?? []} />
    </div>
  );
}

/** The log as lines, kept scrolled to the end while new lines arrive (unless scrolled up to read). */
function LogView({ lines }: { lines: readonly string[] }) {
  const box = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);
  const shown = useMemo(() => logLines(lines), [lines]);
  useLayoutEffect(() => {
    const el = box.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  }, [shown]);
  return (
    <div
      className="log"
      ref={box}
      data-testid="run-log"
      onScroll={(e) => {
        const el = e.currentTarget;
        pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 8;
      }}
    >
      {shown.length === 0 ? (
        <div className="muted">(no output yet)</div>
      ) : (
        shown.map((l, i) => (
          <div key={i} className="log-line">
            {l || ' '}
          </div>
        ))
      )}
    </div>
  );
}

function Compare({ runs }: { runs: Run[] }) {
  const metrics = useManyRunMetrics(runs.map((r) => ({ id: r.id, live: LIVE.has(r.status) })));
  const curves = runs
    .map((r, i) => curveOf(r.name, metrics[i]?.data?.records ?? []))
    .filter((c) => c.steps.length > 0);
  return (
    <div className="run-detail" data-testid="compare">
      <h3>Compare ({runs.length} runs)</h3>
      {curves.length > 0 ? (
        <LossChart curves={curves} height={180} />
      ) : (
        <p className="muted">None of these runs has recorded a loss.</p>
      )}
      <table className="actions">
        <thead>
          <tr>
            <th>run</th>
            <th>stage</th>
            <th>status</th>
            <th>step</th>
            <th>loss</th>
            <th>success</th>
            <th>overrides</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r, i) => {
            const evalRec = [...(metrics[i]?.data?.records ?? [])]
              .reverse()
              .find((x) => typeof x.success === 'number');
            return (
              <tr key={r.id} data-run={r.id}>
                <td>{r.name}</td>
                <td>{r.stage}</td>
                <td>{r.status}</td>
                <td>{r.progress?.step ?? '—'}</td>
                <td>{r.stage !== 'eval' ? (r.progress?.loss?.toFixed(4) ?? '—') : ''}</td>
                <td>{evalRec ? pct(evalRec.success as number) : ''}</td>
                <td style={{ textAlign: 'left' }}>
                  {describeOverrides(r.overrides as Record<string, never>)}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
