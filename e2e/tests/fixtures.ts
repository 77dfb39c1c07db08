// Shared fixture data for the studio specs: a tiny simulated dataset in the e2e server's data
// dir, made with the real generator (idempotent: an existing dataset is resumed, not rebuilt).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DATASET = 'e2e-tiny';

export function ensureTinyDataset(): void {
  const out = `${ROOT}/var/e2e/datasets/${DATASET}`;
  if (existsSync(`${out}/meta/info.json`)) return;
  execFileSync(
    `${ROOT}/.venv/bin/python`,
    ['-m', 'pixelvla_sim.cli', 'gen', '--episodes', '2', '--out', out, '--workers', '1', '--seed', '0'],
    { cwd: ROOT, stdio: 'pipe', timeout: 120_000 },
  );
}
