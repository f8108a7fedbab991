/**
 * Node "mcps-mqtt-device": readings from MQTT devices, on the gateway's embedded broker or on an
 * external one (an mcps-mqtt-broker config node).
 * Output 1: the valid readings, already journaled and acknowledged to the device: with output
 * "reading" (the default) one message per reading (msg.payload a reading, msg.journalId); with
 * output "group" one message per journal commit (msg.payload an array of readings, msg.journalIds,
 * msg.count), the shape mcps-batch and mcps-seal-forward take, which saves Node-RED's per-message
 * cost under load (docs/nodes.md). Output 2: refused messages with the reason (kept as dead letters).
 *
 * Embedded broker: the broker journals each reading before its PUBACK (gateway/runtime.ts,
 * ingestMqtt); this node passes on those of the devices whose topic matches its topic filter.
 * External broker: the node subscribes with QoS 1 in a persistent session (fixed client id, clean
 * session off) and sends the broker its PUBACK only after the reading is journaled (mqtt.js's
 * handleMessage hook runs before the PUBACK), so a gateway that stops in between gets the message
 * again. Devices must be registered on the gateway (their patient is checked); the external
 * broker's logins and ACLs are its own.
 */
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { topicMatches } from '../gateway/ingest/topic-filter';
import { readingFromMqtt } from '../gateway/ingest/mqtt-reading';
import type { MqttReadingEvent, MqttRejectedEvent } from '../gateway/runtime';
import type { NodeAPI, NodeDef, NodeInstance } from './node-red-api';
import type { MqttBrokerSettings } from '../gateway/ingest/mqtt-broker-settings';
import { gatewayRuntime } from './runtime-access';
import { throttledStatus } from './status-throttle';

interface MqttDeviceDef extends NodeDef {
  topic?: string;
  /** An mcps-mqtt-broker config node; empty: the gateway's embedded broker. */
  broker?: string;
  /** "reading" (default): one message per reading; "group": one message per journal commit. */
  output?: string;
}

const DEVICE_TOPIC = /^mcps\/devices\/([A-Za-z0-9._-]+)\/readings$/;

export = function register(RED: NodeAPI): void {
  function MqttDeviceNode(this: NodeInstance, def: MqttDeviceDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const topic = def.topic || 'mcps/devices/+/readings';
    const grouped = def.output === 'group';
    const rt = gatewayRuntime(RED);
    if (def.broker) return externalBroker(node, def.broker, topic, grouped);
    if (!rt || !rt.broker) {
      node.status({ fill: 'red', shape: 'ring', text: RED._('mcps-mqtt-device.status.no-broker') });
      return;
    }
    let received = 0;
    const status = throttledStatus(node);
    const all = topic === 'mcps/devices/+/readings';
    const onReadings = (group: MqttReadingEvent[]): void => {
      const mine = all ? group : group.filter((ev) => topicMatches(topic, ev.topic));
      if (mine.length === 0) return;
      received += mine.length;
      if (grouped) node.send([{ topic, payload: mine.map((ev) => ev.reading), journalIds: mine.map((ev) => ev.journalId), count: mine.length }, null]);
      else for (const ev of mine) node.send([{ topic: ev.topic, payload: ev.reading, journalId: ev.journalId }, null]);
      status.set(() => ({ fill: 'green', shape: 'dot', text: RED._('mcps-mqtt-device.status.receiving', { count: received }) }));
    };
    const onRejected = (ev: MqttRejectedEvent): void => {
      if (!topicMatches(topic, ev.topic)) return;
      node.send([null, { topic: ev.topic, payload: ev.payload.toString('utf8'), error: ev.reason }]);
    };
    rt.on('mqtt-readings', onReadings);
    rt.on('mqtt-rejected', onRejected);
    node.status({ fill: 'yellow', shape: 'ring', text: RED._('mcps-mqtt-device.status.waiting') });
    node.on('close', (_removed: boolean, done: () => void) => {
      rt.off('mqtt-readings', onReadings);
      rt.off('mqtt-rejected', onRejected);
      status.stop();
      done();
    });
  }
  /** Subscribes to an external broker; acknowledges each message once it is journaled. */
  function externalBroker(node: NodeInstance, brokerId: string, topic: string, grouped: boolean): void {
    const rt = gatewayRuntime(RED);
    const cfg = RED.nodes.getNode(brokerId) as (NodeInstance & { brokerSettings?: { settings: MqttBrokerSettings } | { problem: string } }) | null;
    const parsed = cfg?.brokerSettings;
    if (!parsed || 'problem' in parsed) {
      const why = parsed && 'problem' in parsed ? parsed.problem : RED._('mcps-mqtt-device.status.no-broker-config');
      node.status({ fill: 'red', shape: 'ring', text: why });
      node.error(`mcps-mqtt-device: ${why}`);
      return;
    }
    const b = parsed.settings;
    const status = throttledStatus(node);
    let received = 0;
    let refused = 0;
    node.status({ fill: 'yellow', shape: 'ring', text: RED._('mcps-mqtt-device.status.connecting', { url: b.url }) });
    let ca: Buffer | undefined;
    if (b.caFile) {
      try {
        ca = readFileSync(b.caFile);
      } catch (err) {
        const why = `CA file ${b.caFile}: ${(err as Error).message}`;
        node.status({ fill: 'red', shape: 'ring', text: why });
        node.error(`mcps-mqtt-device: ${why}`);
        return;
      }
    }
    // Certificates are always checked (against caFile, else the system's CAs).
    const client = mqtt.connect(b.url, { clientId: b.clientId, username: b.username, password: b.password, clean: false, reconnectPeriod: 2000, connectTimeout: 10_000, ...(ca ? { ca } : {}), rejectUnauthorized: true });
    // Runs before mqtt.js sends the PUBACK of a QoS 1 message: the PUBACK waits for the journal.
    client.handleMessage = (packet, callback) => {
      void (async () => {
        const t = packet.topic;
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
        const device = DEVICE_TOPIC.exec(t)?.[1];
        if (!device || !topicMatches(topic, t)) return callback();
        if (!rt) {
          // No gateway runtime (a plain Node-RED): validated and passed on, nothing journaled.
          try {
            const reading = readingFromMqtt(t, payload, device, undefined, Date.now());
            received++;
            node.send([grouped ? { topic: t, payload: [reading], count: 1 } : { topic: t, payload: reading }, null]);
          } catch (err) {
            refused++;
            node.send([null, { topic: t, payload: payload.toString('utf8'), error: (err as Error).message }]);
          }
          return callback();
        }
        try {
          const r = await rt.acceptMqtt(t, device, payload);
          if ('rejected' in r) {
            refused++;
            node.send([null, { topic: t, payload: payload.toString('utf8'), error: r.rejected }]);
          } else if ('journalId' in r) {
            received++;
            // One message at a time comes from mqtt.js, so a group holds one reading here.
            node.send([grouped ? { topic: t, payload: [r.reading], journalIds: [r.journalId], count: 1 } : { topic: t, payload: r.reading, journalId: r.journalId }, null]);
          }
          callback();
        } catch (err) {
          // Not stored (disk budget full): no PUBACK; the broker delivers it again after a reconnect.
          status.set(() => ({ fill: 'red', shape: 'dot', text: (err as Error).message }));
          client.end(true, () => client.reconnect());
        }
        status.set(() => ({ fill: 'green', shape: 'dot', text: RED._('mcps-mqtt-device.status.external', { url: b.url, count: received, refused }) }));
      })();
    };
    client.on('connect', () => {
      client.subscribe(topic, { qos: 1 }, (err) => {
        if (err) {
          node.status({ fill: 'red', shape: 'ring', text: err.message });
          node.error(`mcps-mqtt-device: subscribing to ${topic} on ${b.url}: ${err.message}`);
        } else status.set(() => ({ fill: 'green', shape: 'dot', text: RED._('mcps-mqtt-device.status.external', { url: b.url, count: received, refused }) }));
      });
    });
    client.on('error', (err) => status.set(() => ({ fill: 'red', shape: 'ring', text: `${b.url}: ${err.message}` })));
    client.on('offline', () => status.set(() => ({ fill: 'yellow', shape: 'ring', text: RED._('mcps-mqtt-device.status.connecting', { url: b.url }) })));
    node.on('close', (_removed: boolean, done: () => void) => {
      status.stop();
      client.end(false, () => done());
    });
  }

  RED.nodes.registerType('mcps-mqtt-device', MqttDeviceNode);
};
