/**
 * Node "mcps-mqtt-device": readings from MQTT devices on the gateway's embedded broker.
 * Output 1: one canonical reading per valid message. Output 2: refused messages with the reason.
 */
import type { AedesPublishPacket } from 'aedes';
import { deviceTopicOwner } from '../gateway/broker';
import { readingFromMqtt } from '../gateway/mqtt-reading';
import type { NodeAPI, NodeDef, NodeInstance } from './node-red-api';
import { gatewayRuntime } from './runtime-access';

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
    const broker = rt.broker;
    let received = 0;
    const deliver = (packet: AedesPublishPacket, cb: () => void): void => {
      const device = deviceTopicOwner(packet.topic) ?? '';
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(String(packet.payload));
      try {
        const reading = readingFromMqtt(packet.topic, payload, device, rt.devices.get(device)?.patient, Date.now());
        rt.acceptReading(reading);
        received++;
        node.send([{ topic: packet.topic, payload: reading }, null]);
        node.status({ fill: 'green', shape: 'dot', text: RED._('mcps-mqtt-device.status.receiving', { count: received }) });
      } catch (err) {
        const reason = (err as Error).message;
        rt.reject({ at: Date.now(), source: `mqtt:${packet.topic}`, reason, raw: payload });
        node.send([null, { topic: packet.topic, payload: payload.toString('utf8'), error: reason }]);
      }
      cb();
    };
    broker.aedes.subscribe(topic, deliver, () => {
      node.status({ fill: 'yellow', shape: 'ring', text: RED._('mcps-mqtt-device.status.waiting') });
    });
    node.on('close', (_removed: boolean, done: () => void) => {
      broker.aedes.unsubscribe(topic, deliver, () => done());
    });
  }
  RED.nodes.registerType('mcps-mqtt-device', MqttDeviceNode);
};
