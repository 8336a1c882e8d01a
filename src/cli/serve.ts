import { ConfigError, fromEnvironment, fromFile, resolveServeConfig, type ServeConfig } from '../config/serve-config.js';
import { parseServeArgs, serveHelp } from '../config/flags.js';
import { turnOffAllocationSitePretenuring } from '../config/gc-tuning.js';
import { startServer } from '../http/server.js';
import { flushLog } from '../observability/logger.js';

export async function run(args: string[]): Promise<number> {
  let config: ServeConfig;
  try {
    const commandLine = parseServeArgs(args);
    if (commandLine.help) {
      console.log(serveHelp());
      return 0;
    }
    const file = commandLine.configFile ? fromFile(commandLine.configFile) : {};
    config = resolveServeConfig(file, fromEnvironment(process.env), commandLine.flags);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`vigil serve: ${error.message}\n\nvigil serve --help lists every setting`);
    return 2;
  }
  turnOffAllocationSitePretenuring();
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(config);
  } catch (error) {
    // Settings that only the model folders can refute (routing naming a missing version).
    if (error instanceof ConfigError) {
      console.error(`vigil serve: ${error.message}`);
      return 2;
    }
    throw error;
  }
  // One line for the person who just started it (the JSON log on stdout is for machines).
  console.error(`vigil serve: listening on ${server.url} - API ${server.url}/v1/models and ${server.url}/v2 (docs ${server.url}/docs), playground ${server.url}/ (models are loading; ${server.url}/ready says when they are up)`);
  const exitCode = await new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      server.shutdown(signal).then(
        () => resolve(0),
        (error: unknown) => {
          server.context.logger.error({ err: error }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await flushLog(server.context.logger);
  return exitCode;
}
