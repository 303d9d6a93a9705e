import cluster from 'node:cluster';
import type { Logger } from 'pino';
import { ConfigError, loadConfig, type Config } from './config';
import { createLogger } from './logger';
import { openService } from './service';
import { KeyStore } from './tokens/key-store';

/** After SHUTDOWN_TIMEOUT_SECONDS the open connections are cut; flushing and closing the database get this much more. */
const FLUSH_GRACE_MS = 5_000;

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  if (config.workers > 1 && cluster.isPrimary) await runPrimary(config, logger);
  else await runServer(config, logger);
}

/** One process serving HTTP: the whole service, or one worker of several. */
async function runServer(config: Config, logger: Logger): Promise<void> {
  const service = await openService(config, { logger });
  const url = await service.listen();
  logger.info(
    {
      url,
      issuer: config.issuer,
      database: service.database.kind,
      alg: service.keys.signingKey().alg,
      kid: service.keys.signingKey().kid,
      ...(cluster.isWorker ? { worker: cluster.worker?.id } : {}),
    },
    'token service listening',
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, timeout_seconds: config.shutdownTimeoutSeconds }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutSeconds * 1000 + FLUSH_GRACE_MS);
    deadline.unref();
    try {
      await service.close();
    } catch (error) {
      logger.error({ err: { message: (error as Error).message } }, 'shutdown failed');
      process.exit(1);
    }
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // SIGHUP: re-read KEYS_DIR now (the folder is watched too; this is for volumes that send no events).
  process.on('SIGHUP', () => {
    logger.info({ signal: 'SIGHUP' }, 're-reading the keys folder');
    service.keys.reload().catch((error: unknown) =>
      logger.warn({ err: { message: (error as Error).message } }, 'key reload failed'),
    );
  });
}

/**
 * WORKERS=N: N processes share the port (node:cluster). The primary serves nothing: it makes sure a signing
 * key exists before any worker starts (so all of them sign with the same one), restarts a worker that dies,
 * passes SIGTERM/SIGINT on, waiting for every worker to drain and flush, and SIGHUP (re-read the keys).
 */
async function runPrimary(config: Config, logger: Logger): Promise<void> {
  await KeyStore.open({
    dir: config.keysDir,
    alg: config.signingAlg,
    maxTokenTtlSeconds: config.maxTokenTtlSeconds,
    envKey: config.signingKey,
  });
  let stopping = false;
  const fork = () => cluster.fork();
  for (let i = 0; i < config.workers; i++) fork();
  logger.info({ workers: config.workers }, 'started workers');

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    logger.error({ worker: worker.id, code, signal }, 'worker exited; starting another');
    setTimeout(fork, 1000).unref();
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down workers');
    const workers = Object.values(cluster.workers ?? {});
    if (workers.length === 0) process.exit(0);
    for (const worker of workers) worker?.process.kill(signal);
    setTimeout(() => process.exit(1), config.shutdownTimeoutSeconds * 1000 + FLUSH_GRACE_MS + 2000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGHUP');
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
