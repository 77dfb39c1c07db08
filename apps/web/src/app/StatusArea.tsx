import { useHealth, useMeta } from '../api/queries';
import { useRun } from '../api/runs';

/** A deployed run's model id is `run-<run id>` (POST /v1/runs/{id}/deploy). */
const DEPLOYED = /^run-(.+)$/;

/** Server health and metadata, always visible in the header. */
export function StatusArea() {
  const health = useHealth();
  const meta = useMeta();
  const healthy = health.isSuccess && health.data.status === 'ok';
  const label = health.isPending ? 'connecting…' : healthy ? 'healthy' : 'unreachable';
  const model = meta.data?.model ?? null;
  const runId = model ? (DEPLOYED.exec(model.id)?.[1] ?? null) : null;
  const run = useRun(runId);
  // A deployed run is named as the Runs page names it; its bundle's own name is only a date.
  const modelName = model
    ? run.data
      ? `run “${run.data.name}” (${run.data.stage}) [${model.id}]`
      : `${model.name} [${model.id.slice(0, 12)}]`
    : 'none loaded';
  return (
    <div className="status" data-testid="status-area">
      <span className={`dot ${healthy ? 'ok' : health.isPending ? 'wait' : 'bad'}`} aria-hidden />
      <span data-testid="server-health">server: {label}</span>
      {meta.data && (
        <span className="meta" data-testid="server-meta">
          v{meta.data.server_version} · {meta.data.device.kind} ({meta.data.device.description}) · model:{' '}
          <span data-testid="served-model-name">{modelName}</span>
        </span>
      )}
      {health.isError && <span className="error">{health.error.message}</span>}
    </div>
  );
}
