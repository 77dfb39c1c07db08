import type { EncoderStatus } from './client';

/**
 * Which backend the in-browser prompt encoder runs on, how long the last encode took, and whether
 * it is the encoder the server's model was trained with. A mismatch is a loud warning: tokens from
 * a different encoder would be silent garbage, so the studio then sends prompts for the server to encode.
 */
export function EncoderBadge({
  status,
  serverHash,
}: {
  status: EncoderStatus;
  serverHash: string | null | undefined;
}) {
  const mismatch = status.encoderHash !== null && serverHash != null && serverHash !== status.encoderHash;
  return (
    <div data-testid="encoder-status">
      <div className="row">
        <span className="pill" data-testid="encoder-backend" title={status.fallbackReason ?? undefined}>
          <span
            className={`dot ${status.state === 'ready' ? 'ok' : status.state === 'error' ? 'bad' : 'wait'}`}
          />
          encoder: {status.state === 'ready' ? status.backend : status.state}
        </span>
        <span className="num muted" data-testid="encoder-time">
          {status.lastRunMs !== null ? `${status.lastRunMs.toFixed(2)} ms` : '—'}
        </span>
        {status.encoderHash && (
          <span className="num muted" title={status.encoderHash}>
            #{status.encoderHash.slice(0, 8)}
          </span>
        )}
      </div>
      {status.error && <div className="errbox">{status.error}</div>}
      {status.fileOk === false && (
        <div className="warn">prompt_encoder.onnx does not match its metadata hash (stale build?).</div>
      )}
      {mismatch && (
        <div className="warn" data-testid="encoder-mismatch">
          Encoder mismatch: the browser encoder #{status.encoderHash!.slice(0, 8)} is not the loaded model's #
          {serverHash!.slice(0, 8)}. Browser tokens are not used; prompts are sent for the server to encode.
        </div>
      )}
    </div>
  );
}

export function encoderMatches(status: EncoderStatus, serverHash: string | null | undefined): boolean {
  return (
    status.state === 'ready' &&
    status.encoderHash !== null &&
    serverHash != null &&
    serverHash === status.encoderHash
  );
}
