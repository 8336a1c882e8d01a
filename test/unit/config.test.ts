import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_SERVE_CONFIG, fromEnvironment, parseModelRef, parseRoutingFlag, resolveServeConfig } from '../../src/config/serve-config.js';

describe('serve configuration', () => {
  it('defaults to loopback on port 8000 with the embedded models', () => {
    const config = resolveServeConfig();
    expect(config).toMatchObject({ host: '127.0.0.1', port: 8000, models: [] });
    expect(config.modelsDir).toMatch(/models$/);
  });

  it('lets flags win over the environment, and the environment over a file', () => {
    const config = resolveServeConfig({ port: 1111, logLevel: 'warn' }, fromEnvironment({ PORT: '2222', LOG_LEVEL: 'debug' }), { port: 3333 });
    expect(config.port).toBe(3333);
    expect(config.logLevel).toBe('debug');
  });

  it('ignores settings a layer leaves undefined', () => {
    expect(resolveServeConfig({ port: undefined }).port).toBe(DEFAULT_SERVE_CONFIG.port);
  });

  it('reads models, threads and sessions from the environment', () => {
    const env = fromEnvironment({ VIGIL_MODELS: 'a=/models/x,/models/y', VIGIL_THREADS: '2', VIGIL_SESSIONS: '3', VIGIL_MODELS_DIR: '' });
    expect(env.models).toEqual([{ name: 'a', path: '/models/x' }, { path: '/models/y' }]);
    expect(env).toMatchObject({ intraOpThreads: 2, sessions: 3, modelsDir: '' });
  });

  it('names the bad setting', () => {
    expect(() => fromEnvironment({ PORT: 'eighty' })).toThrow(new ConfigError('PORT must be a whole number, got "eighty"'));
    expect(() => resolveServeConfig({ port: 70000 })).toThrow(/port/);
  });

  it('splits name=path but keeps paths that contain "="', () => {
    expect(parseModelRef('spam=./models/spam')).toEqual({ name: 'spam', path: './models/spam' });
    expect(parseModelRef('./odd/dir=x')).toEqual({ path: './odd/dir=x' });
    expect(parseModelRef('hf:acme/model')).toEqual({ path: 'hf:acme/model' });
  });

  it('reads --champion, --canary and --shadow, naming the flag when one is malformed', () => {
    expect(parseRoutingFlag('champion', 'spam=1')).toEqual({ model: 'spam', entry: { champion: '1' } });
    expect(parseRoutingFlag('canary', 'spam=2:0.1')).toEqual({ model: 'spam', entry: { challenger: '2', canary_weight: 0.1 } });
    expect(parseRoutingFlag('shadow', 'spam=3')).toEqual({ model: 'spam', entry: { shadow: '3' } });
    expect(parseRoutingFlag('shadow', 'spam=3:0.5')).toEqual({ model: 'spam', entry: { shadow: '3', shadow_weight: 0.5 } });
    expect(() => parseRoutingFlag('canary', 'spam=2')).toThrow(new ConfigError('--canary must be NAME=VERSION:WEIGHT (spam=2:0.1 sends 10% to version 2), got "spam=2"'));
    expect(() => parseRoutingFlag('champion', 'spam=1:0.5')).toThrow(/--champion must be NAME=VERSION/);
    expect(() => parseRoutingFlag('canary', 'spam=2:ten')).toThrow(/--canary must be/);
    expect(() => parseRoutingFlag('canary', 'spam=2:1.5')).toThrow(/--canary spam=2:1.5: "canary_weight" must be a number from 0 to 1/);
  });

  it('merges routing model by model and field by field, later layers winning', () => {
    const config = resolveServeConfig(
      { routing: { spam: { champion: '1', challenger: '2', canary_weight: 0.1, shadow: '3' }, digits: { champion: '1' } } },
      { routing: { spam: { canary_weight: 0.5 } } },
    );
    expect(config.routing).toEqual({ spam: { champion: '1', challenger: '2', canary_weight: 0.5, shadow: '3' }, digits: { champion: '1' } });
    // The fields themselves are checked at startup, against the model folders (test/integration/releases.test.ts).
    expect(() => resolveServeConfig({ routing: { spam: 'v2' } } as never)).toThrow(/"routing.spam" must be a JSON object/);
  });

  it('takes routing from VIGIL_ROUTING, between the file and the flags', () => {
    const env = fromEnvironment({ VIGIL_ROUTING: '{"spam": {"challenger": "2", "canary_weight": 0.2}}' });
    const config = resolveServeConfig({ routing: { spam: { champion: '1', canary_weight: 0.1 } } }, env, { routing: { spam: { shadow: '3' } } });
    expect(config.routing).toEqual({ spam: { champion: '1', challenger: '2', canary_weight: 0.2, shadow: '3' } });
    expect(() => fromEnvironment({ VIGIL_ROUTING: '{spam' })).toThrow(/VIGIL_ROUTING must be JSON/);
    expect(() => fromEnvironment({ VIGIL_ROUTING: '[1]' })).toThrow(/VIGIL_ROUTING must be a JSON object keyed by model name/);
  });
});
