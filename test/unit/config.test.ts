import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_SERVE_CONFIG, fromEnvironment, parseModelRef, resolveServeConfig } from '../../src/config/serve-config.js';

describe('serve configuration', () => {
  it('defaults to all interfaces on port 8000 with the embedded models', () => {
    const config = resolveServeConfig();
    expect(config).toMatchObject({ host: '0.0.0.0', port: 8000, models: [] });
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
});
