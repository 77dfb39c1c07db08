import { describe, expect, it } from 'vitest';
import { MODEL_PACKAGE_VERSION } from './index';

describe('@pixelvla/model', () => {
  it('exposes a semver version', () => {
    expect(MODEL_PACKAGE_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
