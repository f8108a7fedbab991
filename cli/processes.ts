/**
 * Process entry points for `mcps gateway` and `mcps chain-node`: start the service from its config
 * file, report over IPC when forked by `mcps up`, and drain then stop on SIGTERM/SIGINT or on
 * request, within a deadline (cli/shutdown.ts); a second process on the same data directory exits
 * at once naming the first one's pid (common/dir-lock.ts).
 */
import { createLogger, logFn, type Logger } from '../common/log';
import { loadGatewayConfig } from '../gateway/config';
import { runGateway } from '../gateway/main';
import { loadChainNodeConfig } from '../chain-node/config';
import { runChainNode } from '../chain-node/main';
import { sendToParent, type ParentMessage } from './ipc';
import { DEFAULT_DRAIN_TIMEOUT_S, installShutdown } from './shutdown';
import { SdNotify } from '../common/sd-notify';

/**
 * A crash is logged as one JSON line (level fatal, with the error and its stack) before the process
 * exits, so the journal says why the service restarted; Node's own trace would be plain text.
 */
function logCrashes(logger: Logger): void {
  const die = (what: string) => (err: unknown): void => {
    logger.fatal({ err, event: what }, `${what}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  };
  process.on('uncaughtException', die('uncaught exception'));
  process.on('unhandledRejection', die('unhandled rejection'));
}

export async function gatewayProcess(configPath: string): Promise<void> {
  const logger = createLogger('gateway');
  logCrashes(logger);
  const log = logFn(logger);
  try {
    const cfg = loadGatewayConfig(configPath);
    if (cfg.logLevel) logger.level = cfg.logLevel;
    const gw = await runGateway(cfg, log);
    log('info', `Node-RED editor at ${gw.editorUrl} (login in ${gw.editorCredentialsPath}); MQTT broker at ${gw.mqttUrl}`, { event: 'ready', editorUrl: gw.editorUrl, mqttPort: gw.mqttPort, mqttUrl: gw.mqttUrl });
    // Under systemd (Type=notify): ready now, and the watchdog fed from the event loop.
    const sd = SdNotify.fromEnv();
    sd?.ready(`editor ${gw.editorUrl}, MQTT ${gw.mqttUrl}${gw.metricsUrl ? `, metrics ${gw.metricsUrl}/metrics` : ''}`);
    sd?.startWatchdog();
    sendToParent({ type: 'ready', role: 'gateway', editorUrl: gw.editorUrl, mqttPort: gw.mqttPort, mqttUrl: gw.mqttUrl, editorCredentialsPath: gw.editorCredentialsPath, metricsUrl: gw.metricsUrl });
    const timer = setInterval(() => sendToParent({ type: 'status', role: 'gateway', metrics: gw.runtime.metrics }), 500);
    process.on('message', (m: ParentMessage) => {
      if (m.type === 'drain') {
        gw.drain(m.timeoutMs ?? 900_000).then(
          () => sendToParent({ type: 'drained', metrics: gw.runtime.metrics }),
          (err: unknown) => sendToParent({ type: 'fatal', error: `drain failed: ${String(err)}` }),
        );
      }
    });
    installShutdown({
      log,
      deadlineMs: (cfg.drainTimeoutS ?? DEFAULT_DRAIN_TIMEOUT_S) * 1000,
      forked: Boolean(process.send),
      shutdown: async (deadlineMs) => {
        sd?.stopping('draining: closing the broker, sealing and forwarding what is held');
        clearInterval(timer);
        const r = await gw.shutdown(deadlineMs);
        sd?.close();
        return r;
      },
    });
  } catch (err) {
    log('error', (err as Error).message);
    sendToParent({ type: 'fatal', error: (err as Error).message });
    process.exit(1);
  }
}

export async function chainNodeProcess(configPath: string): Promise<void> {
  const logger = createLogger('chain-node');
  logCrashes(logger);
  const log = logFn(logger);
  try {
    const cfg = loadChainNodeConfig(configPath);
    const node = await runChainNode(cfg, log);
    log('info', `chain node ${cfg.nodeId} listening on ${node.url}`, { event: 'ready', nodeId: cfg.nodeId, url: node.url });
    const sd = SdNotify.fromEnv();
    sd?.ready(`API ${node.url}${node.metricsUrl ? `, metrics ${node.metricsUrl}/metrics` : ''}`);
    sd?.startWatchdog();
    sendToParent({ type: 'ready', role: 'chain-node', url: node.url, port: node.port, metricsUrl: node.metricsUrl });
    const timer = setInterval(() => sendToParent({ type: 'status', role: 'chain-node', counters: node.ingest.counters }), 500);
    installShutdown({
      log,
      deadlineMs: (cfg.drainTimeoutS ?? DEFAULT_DRAIN_TIMEOUT_S) * 1000,
      forked: Boolean(process.send),
      shutdown: async (deadlineMs) => {
        sd?.stopping();
        clearInterval(timer);
        const r = await node.shutdown(deadlineMs);
        sd?.close();
        return r;
      },
    });
  } catch (err) {
    log('error', (err as Error).message);
    sendToParent({ type: 'fatal', error: (err as Error).message });
    process.exit(1);
  }
}
