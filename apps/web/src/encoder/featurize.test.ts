import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { PromptJson } from '../canvas/io/prompts';
import { featurize } from './featurize';

interface Arr {
  dtype: string;
  shape: number[];
  b64: string;
}
const vectors = JSON.parse(
  readFileSync(
    fileURLToPath(new URL('../../../../packages/model/testdata/featurize.json', import.meta.url)),
    'utf8',
  ),
) as { cases: { name: string; prompts: PromptJson[]; features: Record<string, Arr> }[] };
const bytes = (a: Arr): Buffer => Buffer.from(a.b64, 'base64');
const view = (a: ArrayBufferView, n = a.byteLength): Buffer => Buffer.from(a.buffer, a.byteOffset, n);

describe('featurize reproduces the Python vectors byte for byte', () => {
  for (const c of vectors.cases) {
    it(c.name, () => {
      const f = featurize(c.prompts);
      for (const k of ['coords', 'types', 'index', 'mask_slot', 'valid'] as const) {
        expect(view(f[k]).equals(bytes(c.features[k]!)), k).toBe(true);
      }
      // The vectors store only the mask slots in use.
      const m = bytes(c.features.masks!);
      expect(view(f.masks, m.length).equals(m), 'masks').toBe(true);
    });
  }
});
