import { describe, expect, it } from 'vitest';
import type { LinkStats, StopInfo } from './linkProtocol';
import { explainStop } from './stopReason';

const stop = (s: Partial<StopInfo>): StopInfo => ({
  reason: 'stop',
  silent_ms: 30,
  server_ms: 0,
  limit_ms: 200,
  detail: null,
  ...s,
});

const link: LinkStats = {
  deadman_ms: 200,
  heartbeat_ms: 50,
  silent_ms: 12,
  window_s: 30,
  gaps: 580,
  gap_p50_ms: 51.2,
  gap_p99_ms: 140.4,
  gap_max_ms: 480.6,
  loop_lag_p99_ms: 20,
  loop_lag_max_ms: 60,
  server_freeze_max_ms: 0,
  worker_gap_max_ms: 52,
};

describe('explainStop', () => {
  it('gives a dead-man stop its silence against the limit, the link numbers and what to change', () => {
    const text = explainStop(stop({ reason: 'deadman', silent_ms: 480.4 }), link);
    expect(text).toContain('heard nothing from this studio for 480 ms');
    expect(text).toContain('its 200 ms limit');
    expect(text).toContain('p99 140 ms, max 481 ms');
    expect(text).toContain('deadman_ms, 100–2000 ms');
  });

  it('does not blame the studio for the time the server itself was late', () => {
    const text = explainStop(stop({ reason: 'deadman', silent_ms: 900, server_ms: 650 }), null);
    expect(text).toContain('for 250 ms (plus 650 ms the server itself was late)');
    expect(text).not.toContain('p99');
    const server = explainStop(stop({ reason: 'deadman', silent_ms: 420, server_ms: 300 }), link);
    expect(server).toContain('did not read this studio for 420 ms, 300 ms of it its own lag');
    expect(server).toContain('The server is overloaded');
  });

  it('says what the studio itself stopped for, and how to leave an e-stop', () => {
    const page = explainStop(stop({ detail: 'studio page unresponsive for 2300 ms (limit 2000 ms)' }), link);
    expect(page).toContain('studio page unresponsive for 2300 ms (limit 2000 ms)');
    expect(page).toContain('Stop and E-stop cannot be pressed');
    expect(explainStop(stop({ detail: 'studio tab hidden' }), link)).toContain('the studio tab was hidden');
    expect(explainStop(stop({ reason: 'estop' }), link)).toContain('Reset E-stop');
    expect(explainStop(stop({ reason: 'error', detail: 'ValueError: x' }), link)).toContain('ValueError: x');
  });

  it('tells a watching tab about the controlling client, and what to do after each stop', () => {
    const watched = explainStop(stop({ reason: 'deadman', silent_ms: 480 }), link, { watching: true });
    expect(watched).toContain('heard nothing from the controlling client for 480 ms');
    expect(watched).not.toContain('p99'); // the link numbers are the controller's, not this tab's
    expect(explainStop(stop({ reason: 'estop', detail: 'from a watching client' }), link)).toBe(
      'E-stopped (from a watching client): press Reset E-stop, then Go.',
    );
    expect(explainStop(stop({ reason: 'control taken' }), link, { watching: true })).toContain(
      'Take control',
    );
    expect(explainStop(stop({ reason: 'controller disconnected', silent_ms: 40 }), link)).toContain(
      'its last message 40 ms before',
    );
    expect(explainStop(stop({ reason: 'error', detail: 'RuntimeError: x' }), link)).toContain('then Go');
    expect(explainStop(stop({ reason: 'stop' }), link)).toBe('Stopped. Go resumes.');
  });
});
