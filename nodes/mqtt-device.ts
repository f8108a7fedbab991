/**
 * Node "mcps-mqtt-device": readings from MQTT devices on the gateway's embedded broker.
 * Output 1: one canonical reading per valid message, already journaled (msg.journalId) and
 * acknowledged to the device. Output 2: refused messages with the reason (kept as dead letters).
 *
 * The broker journals each reading before its PUBACK (gateway/runtime.ts, ingestMqtt); this node
 * passes on those of the devices whose topic matches its topic filter.
 */
import { topicMatches } from '../gateway/topic-filter';
import type { MqttReadingEvent, MqttRejectedEvent } from '../gateway/runtime';
import type { NodeAPI, NodeDef, NodeInstance } from './node-red-api';
import { gatewayRuntime } from './runtime-access';
import { throttledStatus } from './status-throttle';

interface MqttDeviceDef extends NodeDef {
  topic?: string;
}

export = function register(RED: NodeAPI): void {
  function MqttDeviceNode(this: NodeInstance, def: MqttDeviceDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const topic = def.topic || 'mcps/devices/+/readings';
    const rt = gatewayRuntime(RED);
    if (!rt || !rt.broker) {
      node.status({ fill: 'red', shape: 'ring', text: RED._('mcps-mqtt-device.status.no-broker') });
      return;
    }
    let received = 0;
    const status = throttledStatus(node);
    const onReading = (ev: MqttReadingEvent): void => {
      if (!topicMatches(topic, ev.topic)) return;
      received++;
      node.send([{ topic: ev.topic, payload: ev.reading, journalId: ev.journalId }, null]);
      status.set(() => ({ fill: 'green', shape: 'dot', text: RED._('mcps-mqtt-device.status.receiving', { count: received }) }));
    };
    const onRejected = (ev: MqttRejectedEvent): void => {
      if (!topicMatches(topic, ev.topic)) return;
      node.send([null, { topic: ev.topic, payload: ev.payload.toString('utf8'), error: ev.reason }]);
    };
    rt.on('mqtt-reading', onReading);
    rt.on('mqtt-rejected', onRejected);
    node.status({ fill: 'yellow', shape: 'ring', text: RED._('mcps-mqtt-device.status.waiting') });
    node.on('close', (_removed: boolean, done: () => void) => {
      rt.off('mqtt-reading', onReading);
      rt.off('mqtt-rejected', onRejected);
      status.stop();
      done();
    });
  }
  RED.nodes.registerType('mcps-mqtt-device', MqttDeviceNode);
};
