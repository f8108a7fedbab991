/**
 * Process entry points for `mcps gateway` and `mcps chain-node`: start the service from its config
 * file, report over IPC when forked by `mcps up`, and stop cleanly on SIGTERM/SIGINT or on request.
 */
import { makeLogger } from '../common/log';
import { loadGatewayConfig } from '../gateway/config';
import { runGateway } from '../gateway/main';
import { loadChainNodeConfig } from '../chain-node/config';
import { runChainNode } from '../chain-node/main';
import { sendToParent, type ParentMessage } from './ipc';

function onStopSignals(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (): void => {
    if (stopping) return;
    stopping = true;
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`stop failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  if (process.send) {
    // Forked by `mcps up`: a Ctrl-C in the terminal reaches the whole process group, but the parent
    // decides when we stop (after draining), so SIGINT is ignored here and SIGTERM/IPC stop us.
    process.on('SIGINT', () => undefined);
  } else {
    process.on('SIGINT', handler);
  }
  process.on('message', (m: ParentMessage) => {
    if (m.type === 'stop') handler();
  });
  // If the parent dies, do not linger as an orphan.
  process.on('disconnect', handler);
}

export async function gatewayProcess(configPath: string): Promise<void> {
  const log = makeLogger('gateway');
  try {
    const cfg = loadGatewayConfig(configPath);
    const gw = await runGateway(cfg, log);
    log('info', `Node-RED editor at ${gw.editorUrl} (login in ${gw.editorCredentialsPath}); MQTT broker on ${cfg.mqtt.host}:${gw.mqttPort}`);
    sendToParent({ type: 'ready', role: 'gateway', editorUrl: gw.editorUrl, mqttPort: gw.mqttPort, editorCredentialsPath: gw.editorCredentialsPath });
    const timer = setInterval(() => sendToParent({ type: 'status', role: 'gateway', metrics: gw.runtime.metrics }), 500);
    process.on('message', (m: ParentMessage) => {
      if (m.type === 'drain') {
        gw.drain(900_000).then(
          () => sendToParent({ type: 'drained', metrics: gw.runtime.metrics }),
          (err: unknown) => sendToParent({ type: 'fatal', error: `drain failed: ${String(err)}` }),
        );
      }
    });
    onStopSignals(async () => {
      clearInterval(timer);
      await gw.stop();
    });
  } catch (err) {
    log('error', (err as Error).message);
    sendToParent({ type: 'fatal', error: (err as Error).message });
    process.exit(1);
  }
}

export async function chainNodeProcess(configPath: string): Promise<void> {
  const log = makeLogger('chain-node');
  try {
    const cfg = loadChainNodeConfig(configPath);
    const node = await runChainNode(cfg, log);
    log('info', `chain node ${cfg.nodeId} listening on ${node.url}`);
    sendToParent({ type: 'ready', role: 'chain-node', url: node.url, port: node.port });
    const timer = setInterval(() => sendToParent({ type: 'status', role: 'chain-node', counters: node.ingest.counters }), 500);
    onStopSignals(async () => {
      clearInterval(timer);
      await node.stop();
    });
  } catch (err) {
    log('error', (err as Error).message);
    sendToParent({ type: 'fatal', error: (err as Error).message });
    process.exit(1);
  }
}
