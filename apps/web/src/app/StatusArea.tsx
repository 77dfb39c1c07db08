import { useHealth, useMeta } from '../api/queries';

/** Server health and metadata, always visible in the header. */
export function StatusArea() {
  const health = useHealth();
  const meta = useMeta();
  const healthy = health.isSuccess && health.data.status === 'ok';
  const label = health.isPending ? 'connecting…' : healthy ? 'healthy' : 'unreachable';
  return (
    <div className="status" data-testid="status-area">
      <span className={`dot ${healthy ? 'ok' : health.isPending ? 'wait' : 'bad'}`} aria-hidden />
      <span data-testid="server-health">server: {label}</span>
      {meta.data && (
        <span className="meta" data-testid="server-meta">
          v{meta.data.server_version} · {meta.data.device.kind} ({meta.data.device.description}) · model:{' '}
          {meta.data.model ? `${meta.data.model.name} [${meta.data.model.id.slice(0, 12)}]` : 'none loaded'}
        </span>
      )}
      {health.isError && <span className="error">{health.error.message}</span>}
    </div>
  );
}
