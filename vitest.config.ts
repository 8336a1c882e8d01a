import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The reliability suite has its own command (npm run test:reliability) and config.
    exclude: ['test/reliability/**', '**/node_modules/**'],
    // Integration tests start real servers and real models on a 2-core machine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Files run one at a time: they each load models and would fight for the two cores.
    fileParallelism: false,
    reporters: ['default'],
    // Servers the tests start keep gRPC off unless a test asks for it with --grpc-port: the
    // default port (8081) is one port, and other test runs on the machine may hold it.
    env: { GRPC_PORT: '0' },
  },
});
