import type { FastifyInstance } from 'fastify';

/**
 * How every helper server of the suite (the alternatives, the HTTP ceiling) comes up and goes
 * down: listen on loopback, print `LISTENING <url>` for spawn.ts to read, close on SIGTERM or
 * SIGINT. A failure to start prints the error and exits 1, so the suite reports it.
 */
export async function listenForBench(app: FastifyInstance, port: string): Promise<void> {
  const url = await app.listen({ host: '127.0.0.1', port: Number(port) });
  console.log(`LISTENING ${url}`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

export function runBenchHelper(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
