/**
 * Node "mcps-hl7-device": bedside monitors that send HL7 v2 ORU^R01 observation reports over MLLP
 * (IHE PCD-01 style). Listens on a TCP port; each message's readings are journaled (synced) before
 * the ACK goes back, so an AA means "kept". Output 1: one canonical reading per observation, with
 * msg.journalId. Output 2: refused messages and observations with the reason (also dead letters).
 * Devices are those registered on the gateway (devices.json): MSH-3 is the device id, PID-3 its
 * patient. The parsing and decisions live in gateway/ingest/hl7/ (tested without Node-RED).
 */
import { Hl7Intake } from '../gateway/ingest/hl7/hl7-intake';
import { LISTENER_TLS_SETTING, startMllpListener, type ListenerTls, type MllpListener } from '../gateway/ingest/hl7/mllp-listener';
import { isLoopback } from '../common/tls';
import type { NodeAPI, NodeDef, NodeInstance } from './node-red-api';
import { gatewayRuntime } from './runtime-access';
import { throttledStatus } from './status-throttle';

interface Hl7DeviceDef extends NodeDef {
  host?: string;
  port?: string | number;
  /** "auto" (default: TLS when the gateway has TLS files), "on" or "off". */
  tls?: string;
}

export = function register(RED: NodeAPI): void {
  function Hl7DeviceNode(this: NodeInstance, def: Hl7DeviceDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const rt = gatewayRuntime(RED);
    if (!rt) {
      node.status({ fill: 'red', shape: 'ring', text: RED._('mcps-hl7-device.status.no-runtime') });
      return;
    }
    const host = String(def.host ?? '').trim() || '127.0.0.1';
    const rawPort = String(def.port ?? '').trim();
    const unset = /^\$\{(\w+)\}$/.exec(rawPort);
    if (unset) {
      node.status({ fill: 'grey', shape: 'ring', text: RED._('mcps-hl7-device.status.not-configured', { name: unset[1] }) });
      node.warn(`mcps-hl7-device: ${RED._('mcps-hl7-device.status.not-configured', { name: unset[1] })}; idle`);
      return;
    }
    const port = Number(rawPort);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      node.status({ fill: 'red', shape: 'ring', text: RED._('mcps-hl7-device.errors.port', { port: rawPort }) });
      node.error(`mcps-hl7-device: ${RED._('mcps-hl7-device.errors.port', { port: rawPort })}`);
      return;
    }
    // MLLP over TLS with the gateway's certificate; plain MLLP off loopback only if the gateway allows plaintext.
    const lt = (RED.settings[LISTENER_TLS_SETTING] as ListenerTls | undefined) ?? { allowPlaintext: false };
    const mode = def.tls === 'on' || def.tls === 'off' ? def.tls : 'auto';
    const useTls = mode === 'on' || (mode === 'auto' && lt.material !== undefined);
    if (useTls && !lt.material) {
      node.status({ fill: 'red', shape: 'ring', text: RED._('mcps-hl7-device.errors.tls-missing') });
      node.error(`mcps-hl7-device: ${RED._('mcps-hl7-device.errors.tls-missing')}`);
      return;
    }
    if (!useTls && !isLoopback(host)) {
      if (!lt.allowPlaintext) {
        node.status({ fill: 'red', shape: 'ring', text: RED._('mcps-hl7-device.errors.plaintext', { host }) });
        node.error(`mcps-hl7-device: ${RED._('mcps-hl7-device.errors.plaintext', { host })}`);
        return;
      }
      node.warn(`mcps-hl7-device: plain MLLP on ${host}:${port} WITHOUT TLS (allowPlaintext is set): anything on that network can read and forge HL7 messages`);
    }
    const status = throttledStatus(node);
    let readings = 0;
    let refused = 0;
    let connections = 0;
    const show = (): void =>
      status.set(() => ({ fill: 'green', shape: connections > 0 ? 'dot' : 'ring', text: RED._('mcps-hl7-device.status.receiving', { port: String(listener?.port ?? port), connections, count: readings, refused }) }));
    const intake = new Hl7Intake(
      {
        ingest: (r, key) => rt.ingest(r, key),
        // HL7 monitors (and entries from before devices had a transport); never an MQTT device's id.
        patientOf: (d) => {
          const e = rt.devices.get(d);
          return e && e.transport !== 'mqtt' ? e.patient : undefined;
        },
        kindAllowed: (d, kind) => rt.devices.get(d)?.kinds?.includes(kind) ?? true,
        reject: (d) => rt.reject(d),
        now: () => Date.now(),
      },
      `hl7:${host}:${port}`,
    );
    let listener: MllpListener | null = null;
    let closed = false;
    startMllpListener({
      tls: useTls ? lt.material : undefined,
      host,
      port,
      onMessage: async (frame, peer) => {
        rt.recordHl7({ peer, data: frame });
        const out = await intake.handle(frame);
        if (out.deviceId) listener?.noteDevice(peer, out.deviceId);
        for (const a of out.accepted) {
          readings++;
          node.send([{ topic: a.reading.deviceId, payload: a.reading, journalId: a.journalId }, null]);
        }
        if (out.refused.length > 0) {
          refused++;
          node.send([null, { topic: peer, payload: frame.toString('utf8'), error: out.refused.join('; '), ack: out.code }]);
        }
        if (out.ack === null) {
          status.set(() => ({ fill: 'red', shape: 'dot', text: RED._('mcps-hl7-device.status.not-stored') }));
          return null;
        }
        show();
        return out.ack;
      },
      onProblem: (peer, reason) => {
        refused++;
        rt.reject({ at: Date.now(), source: `hl7:${peer}`, reason, raw: new Uint8Array(0) });
        show();
      },
      onConnections: (n) => {
        connections = n;
        show();
      },
    }).then(
      (l) => {
        if (closed) return void l.close();
        listener = l;
        node.status({ fill: 'green', shape: 'ring', text: RED._(useTls ? 'mcps-hl7-device.status.listening-tls' : 'mcps-hl7-device.status.listening', { host, port: String(l.port) }) });
      },
      (err: Error) => {
        node.status({ fill: 'red', shape: 'ring', text: RED._('mcps-hl7-device.errors.listen', { host, port: String(port), reason: err.message }) });
        node.error(`mcps-hl7-device: ${RED._('mcps-hl7-device.errors.listen', { host, port: String(port), reason: err.message })}`);
      },
    );
    // A monitor removed from (or changed in) devices.json loses its connection.
    const onDevicesChanged = (c: { removed: string[]; changed: string[] }): void => {
      listener?.disconnectDevices([...c.removed, ...c.changed]);
    };
    rt.on('devices-changed', onDevicesChanged);
    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      rt.off('devices-changed', onDevicesChanged);
      status.stop();
      const l = listener;
      listener = null;
      if (l) l.close().then(done, done);
      else done();
    });
  }
  RED.nodes.registerType('mcps-hl7-device', Hl7DeviceNode);
};
