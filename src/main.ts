import 'reflect-metadata';
import { ConfigError, loadConfig } from './config';
import { startGateway } from './gateway';
import { createLogger } from './logger';

// The only module that reads process.env and handles signals.

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`Configuration error: ${err.message}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.logLevel);
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled promise rejection'));

  let gateway;
  try {
    gateway = await startGateway(config, { logger });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    logger.fatal({ err: err instanceof ConfigError ? undefined : err }, `gateway failed to start: ${message}`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  }

  if (gateway.devTokens) {
    process.stdout.write(
      [
        '',
        `Scan gateway (development) at ${gateway.url}, with an ephemeral token key that dies with this process.`,
        'Tokens valid for 12 hours:',
        `  Admin: ${gateway.devTokens.admin}`,
        `  App:   ${gateway.devTokens.app}`,
        `Try: curl -s -H "Authorization: Bearer <Admin token>" ${gateway.url}/api/v1/HostScanJob`,
        `Dashboard: ${gateway.url}/   GraphQL explorer: ${gateway.url}/explorer   Swagger UI: ${gateway.url}/swagger`,
        ...(gateway.demo
          ? [`Demo host: ${gateway.demo.host}, a demo SSH server at ${gateway.demo.sshTarget} that this process runs (development only)`]
          : []),
        '',
      ].join('\n') + '\n',
    );
  }

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'already shutting down');
      return;
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    gateway.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

void main();
