import { describe, expect, it } from 'vitest';
import { ConfigError, fromEnvironment, resolveServeConfig } from '../../src/config/serve-config.js';

/** The monitoring settings as the environment and config files give them (flags: test/integration/feedback.test.ts). */
describe('monitoring settings', () => {
  it('come from VIGIL_PREDICTION_LOG* and VIGIL_LOG_INPUTS', () => {
    const env = fromEnvironment({
      VIGIL_PREDICTION_LOG: '/var/lib/vigil/predictions.sqlite',
      VIGIL_PREDICTION_LOG_MAX_ROWS: '5000',
      VIGIL_PREDICTION_LOG_MAX_DAYS: '14',
      VIGIL_LOG_INPUTS: 'true',
    });
    expect(env).toMatchObject({ predictionLog: '/var/lib/vigil/predictions.sqlite', predictionLogMaxRows: 5000, predictionLogMaxDays: 14, logInputs: true });
    expect(fromEnvironment({ VIGIL_LOG_INPUTS: '0' }).logInputs).toBe(false);
    expect(fromEnvironment({}).predictionLog).toBeUndefined();
  });

  it('are checked: a bad value names the setting', () => {
    expect(() => fromEnvironment({ VIGIL_PREDICTION_LOG_MAX_ROWS: 'lots' })).toThrow(/VIGIL_PREDICTION_LOG_MAX_ROWS/);
    expect(() => resolveServeConfig({ predictionLogMaxDays: -1 })).toThrow(ConfigError);
    expect(() => resolveServeConfig({ qualityWindow: 0 })).toThrow(/qualityWindow/);
    expect(() => fromEnvironment({ VIGIL_PREDICTION_LOG_MAX_DAYS: 'soon' })).toThrow(new ConfigError('VIGIL_PREDICTION_LOG_MAX_DAYS must be a number, got "soon"'));
    expect(resolveServeConfig({ driftWindow: 200, qualityWindow: 100 })).toMatchObject({ driftWindow: 200, qualityWindow: 100 });
  });
});
