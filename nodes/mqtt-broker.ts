/**
 * Config node "mcps-mqtt-broker": an MQTT broker outside the gateway (the hospital's own) that
 * devices publish to, for mqtt device nodes that read from it instead of the embedded broker.
 * URL and client id in the flow; user name and password in Node-RED's credentials (encrypted in
 * the credentials file, never in the flow JSON).
 */
import type { NodeAPI, NodeDef, NodeInstance } from './node-red-api';
import { parseBrokerSettings } from '../gateway/ingest/mqtt-broker-settings';

export = function register(RED: NodeAPI): void {
  function MqttBrokerNode(this: NodeInstance, def: NodeDef & { url?: string; clientId?: string; caFile?: string }): void {
    RED.nodes.createNode(this, def);
    const creds = this.credentials as { username?: string; password?: string } | undefined;
    (this as { brokerSettings?: unknown }).brokerSettings = parseBrokerSettings(def, creds, `mcps-${String(def.id).replace(/[^A-Za-z0-9]/g, '').slice(0, 16)}`);
  }
  RED.nodes.registerType('mcps-mqtt-broker', MqttBrokerNode, { credentials: { username: { type: 'text' }, password: { type: 'password' } } });
};
