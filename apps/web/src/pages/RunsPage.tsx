// Runs: launch stage 1 / stage 2 from a form built from the config schema, watch the queue with
// live progress and loss curves, read logs, cancel / resume, compare runs, deploy a checkpoint.
import { useMemo, useState } from 'react';
import { useDatasets } from '../api/datasets';
import {
  type Run,
  type RunStage,
  useCancelRun,
  useConfigSchema,
  useCreateRun,
  useDeployRun,
  useLoadModel,
  useModels,
  useResumeRun,
  useRunLogs,
  useRunMetrics,
  useRuns,
} from '../api/runs';
import { SchemaForm } from '../runs/SchemaForm';
import { type FormValues, defaults, overrides } from '../runs/schema';
import { type Curve, LossChart } from '../runs/LossChart';

const STAGES: readonly RunStage[] = ['stage1', 'stage2', 'base', 'eval'];
const LIVE = new Set(['queued', 'running']);

export function RunsPage() {
  const runs = useRuns();
  const [selected, setSelected] = useState<string | null>(null);
  const [compare, setCompare] = useState<string[]>([]);
  const list = useMemo(() => [...(runs.data ?? [])].sort((a, b) => b.created_at - a.created_at), [runs.data]);
  const current = list.find((r) => r.id === selected) ?? null;
  return (
    <section className="workspace runs" data-testid="page-runs">
      <aside className="sidebar">
        <LaunchForm onLaunched={(r) => setSelected(r.id)} />
        <ServedModel />
      </aside>
      <div className="runs-main">
        <h3>Queue</h3>
        <table className="runs-table" data-testid="runs-table">
          <thead>
            <tr>
              <th title="compare">⇄</th>
              <th>name</th>
              <th>stage</th>
              <th>status</th>
              <th style={{ width: '28%' }}>progress</th>
              <th>loss</th>
              <th>samples/s</th>
              <th>created</th>
            </tr>
          </thead>
          <tbody>
            {list.map((r) => {
              const p = r.progress;
              const frac = p?.total_steps ? p.step / p.total_steps : r.status === 'succeeded' ? 1 : 0;
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
                    <div className="bar" title={p ? `${p.step} / ${p.total_steps ?? '?'}` : ''}>
                      <div style={{ width: `${Math.round(frac * 100)}%` }} />
                      <span className="num">{p ? `${p.step}/${p.total_steps ?? '?'}` : '—'}</span>
                    </div>
                  </td>
                  <td className="num">{p?.loss != null ? p.loss.toFixed(4) : '—'}</td>
                  <td className="num">{p?.samples_per_s != null ? p.samples_per_s.toFixed(1) : '—'}</td>
                  <td className="num muted">{new Date(r.created_at * 1000).toLocaleTimeString()}</td>
                </tr>
              );
            })}
            {runs.isSuccess && list.length === 0 && (
              <tr>
                <td colSpan={8} className="muted">
                  No runs yet: launch one on the left.
                </td>
              </tr>
            )}
          </tbody>
        </table>
        {compare.length >= 2 && <Compare runs={list.filter((r) => compare.includes(r.id))} />}
        {current && <RunDetail key={current.id} run={current} />}
      </div>
    </section>
  );
}

function LaunchForm({ onLaunched }: { onLaunched: (r: Run) => void }) {
  const datasets = useDatasets();
  const models = useModels();
  const create = useCreateRun();
  const [stage, setStage] = useState<RunStage>('stage2');
  const [dataset, setDataset] = useState('');
  const [base, setBase] = useState('');
  const [name, setName] = useState('');
  // Edits per schema title (TrainConfig, EvalConfig): switching stages keeps what was typed.
  const [edits, setEdits] = useState<Record<string, FormValues>>({});
  const schema = useConfigSchema(stage);
  const ds = datasets.data?.datasets ?? [];
  const values: FormValues = schema.data
    ? { ...defaults(schema.data), ...(edits[schema.data.title] ?? {}) }
    : {};
  const changed = schema.data ? overrides(schema.data, values) : {};
  // Stages after base fine-tune a trained model: default to the one the policy serves now.
  const startFrom = base || (stage === 'base' ? '' : (models.data?.loaded ?? ''));
  return (
    <form
      data-testid="launch-form"
      onSubmit={(e) => {
        e.preventDefault();
        create.mutate(
          {
            stage,
            name: name || null,
            dataset: stage === 'eval' ? null : dataset || ds[0]?.id || null,
            base_checkpoint: startFrom || null,
            overrides: changed,
          },
          { onSuccess: onLaunched },
        );
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
      <label className="field" hidden={stage === 'eval'}>
        <span>dataset</span>
        <select
          value={dataset || ds[0]?.id || ''}
          onChange={(e) => setDataset(e.target.value)}
          name="dataset"
        >
          {ds.map((d) => (
            <option key={d.id} value={d.id}>
              {d.id} ({d.num_episodes} ep)
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>start from</span>
        <select value={startFrom} onChange={(e) => setBase(e.target.value)} name="base">
          <option value="">{stage === 'base' ? '(from scratch)' : '(choose a model)'}</option>
          {(models.data?.models ?? []).map((m) => (
            <option key={m.id}>{m.id}</option>
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
      {schema.data ? (
        <>
          <h3 style={{ marginTop: 10 }}>
            {schema.data.title} <span className="muted">({Object.keys(changed).length} changed)</span>
          </h3>
          <SchemaForm
            key={schema.data.title}
            schema={schema.data}
            values={values}
            onChange={(v) => setEdits({ ...edits, [schema.data.title]: overrides(schema.data, v) })}
          />
        </>
      ) : schema.isError ? (
        <div className="errbox">config schema: {schema.error.message}</div>
      ) : (
        <p className="muted">Loading the {stage} config…</p>
      )}
      <button
        type="submit"
        className="primary"
        style={{ width: '100%', marginTop: 8 }}
        disabled={create.isPending || !schema.data}
        data-testid="launch"
      >
        {create.isPending ? 'Launching…' : `Launch ${stage}`}
      </button>
      {create.isError && <div className="errbox">{create.error.message}</div>}
    </form>
  );
}

/** Which registry bundle the policy server serves; switching hot-swaps it (streams keep going). */
function ServedModel() {
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
            <option key={m.id}>{m.id}</option>
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

function RunDetail({ run }: { run: Run }) {
  const live = LIVE.has(run.status);
  const metrics = useRunMetrics(run.id, live);
  const logs = useRunLogs(run.id, live);
  const cancel = useCancelRun();
  const resume = useResumeRun();
  const deploy = useDeployRun();
  const models = useModels();
  const records = useMemo(() => metrics.data?.records ?? [], [metrics.data]);
  const curves = useMemo(() => [curveOf(run.name, records)], [run.name, records]);
  const served = models.data?.loaded === run.model;
  const evalRows = records.filter((r) =>
    Object.keys(r).some((k) => k.startsWith('eval') || k.includes('success')),
  );
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
      </div>
      {run.error && <div className="errbox">{run.error}</div>}
      {deploy.isError && <div className="errbox">{deploy.error.message}</div>}
      <p className="muted" style={{ margin: '4px 0', fontSize: 12 }}>
        {run.stage} · dataset {run.dataset ?? '—'} · from {run.base_checkpoint ?? 'stage default'} · attempts{' '}
        {run.attempts}
        {run.resumed ? ' · resumed' : ''} · overrides {JSON.stringify(run.overrides)} · checkpoints:{' '}
        {run.checkpoints.join(', ') || 'none'}
      </p>
      {curves[0]!.steps.length > 0 ? <LossChart curves={curves} /> : <p className="muted">No metrics yet.</p>}
      {evalRows.length > 0 && <EvalTable rows={evalRows} />}
      <h3>Log</h3>
      <pre className="log" data-testid="run-log">
        {(logs.data ?? []).join('\n') || '(no output yet)'}
      </pre>
    </div>
  );
}

function EvalTable({ rows }: { rows: readonly Record<string, unknown>[] }) {
  const keys = [
    ...new Set(
      rows.flatMap((r) => Object.keys(r).filter((k) => typeof r[k] === 'number' || typeof r[k] === 'string')),
    ),
  ];
  return (
    <>
      <h3>Evaluation</h3>
      <table className="actions">
        <thead>
          <tr>
            {keys.map((k) => (
              <th key={k}>{k}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i}>
              {keys.map((k) => (
                <td key={k}>{typeof r[k] === 'number' ? (r[k] as number).toFixed(4) : String(r[k] ?? '')}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function Compare({ runs }: { runs: Run[] }) {
  return (
    <div className="run-detail" data-testid="compare">
      <h3>Compare ({runs.length} runs)</h3>
      <CompareCurves runs={runs} />
      <table className="actions">
        <thead>
          <tr>
            <th>run</th>
            <th>stage</th>
            <th>status</th>
            <th>step</th>
            <th>loss</th>
            <th>overrides</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id}>
              <td>{r.name}</td>
              <td>{r.stage}</td>
              <td>{r.status}</td>
              <td>{r.progress?.step ?? '—'}</td>
              <td>{r.progress?.loss?.toFixed(4) ?? '—'}</td>
              <td style={{ textAlign: 'left' }}>{JSON.stringify(r.overrides)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function CompareCurves({ runs }: { runs: Run[] }) {
  // One metrics query per run (hooks in a fixed-length list keyed by the runs' ids).
  return <CompareInner key={runs.map((r) => r.id).join(',')} runs={runs} />;
}

function CompareInner({ runs }: { runs: Run[] }) {
  const a = useRunMetrics(runs[0]!.id, LIVE.has(runs[0]!.status));
  const b = useRunMetrics(runs[1]!.id, LIVE.has(runs[1]!.status));
  const c = useRunMetrics(runs[2]?.id ?? runs[0]!.id, false);
  const curves = [
    curveOf(runs[0]!.name, a.data?.records ?? []),
    curveOf(runs[1]!.name, b.data?.records ?? []),
  ];
  if (runs[2]) curves.push(curveOf(runs[2].name, c.data?.records ?? []));
  return <LossChart curves={curves} height={180} />;
}
