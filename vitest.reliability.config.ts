import { defineConfig } from 'vitest/config';

/** The reliability suite (npm run test:reliability): real servers under load, one file at a time. */
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    reporters: ['default'],
    // As in vitest.config.ts: servers keep gRPC off unless a scenario asks for it (8081 is one port).
    env: { GRPC_PORT: '0' },
  },
});
