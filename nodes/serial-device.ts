/**
 * Node "mcps-serial-device": a bedside device on a serial port (RS-232 or USB), decoded.
 * Output 1: canonical readings, each journaled (msg.journalId) before it is sent on. Output 2:
 * refused frames with the reason and the raw bytes. A serial device cannot be acknowledged, so
 * "received" means "journaled": a reading counts only once it is on disk.
 */
import { decoderFor, eventReadings } from '../gateway/ingest/decoders/serial-decoder';
import { SerialLink } from '../gateway/ingest/serial-link';
import { parseSerialSettings } from '../gateway/ingest/serial-settings';
import type { NodeAPI, NodeDef, NodeInstance, SerialPortConfigNode } from './node-red-api';
import { gatewayRuntime } from './runtime-access';
import { throttledStatus } from './status-throttle';

interface SerialDeviceDef extends NodeDef {
  /** The mcps-serial-port config node. */
  serial?: string;
  /** Legacy (before mcps-serial-port): the port on the device node itself. */
  port?: string;
  baud?: string | number;
  format?: string;
  deviceId?: string;
  patient?: string;
}


export = function register(RED: NodeAPI): void {
  function SerialDeviceNode(this: NodeInstance, def: SerialDeviceDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const rt = gatewayRuntime(RED);
    const deviceId = (def.deviceId ?? '').trim();
    const patient = (def.patient ?? '').trim();
    // The port comes from an mcps-serial-port config node; flows from before it existed carry
    // port, baud and format on this node, and still work.
    let parsed: ReturnType<typeof parseSerialSettings>;
    if (def.serial) {
      const cfg = RED.nodes.getNode(def.serial) as SerialPortConfigNode | null;
      parsed = cfg?.portSettings ?? { problems: [{ key: 'no-config' }] };
    } else {
      parsed = parseSerialSettings({ path: def.port, baud: def.baud, format: def.format });
    }
    const problems = 'problems' in parsed ? parsed.problems.map((p) => RED._(`mcps-serial-device.errors.${p.key}`, p.params)) : [];
    // Node-RED leaves "${NAME}" as it is when NAME is not set: never label readings with that.
    if (!deviceId || deviceId.startsWith('${')) problems.push(RED._('mcps-serial-device.errors.no-device'));
    if (!patient || patient.startsWith('${')) problems.push(RED._('mcps-serial-device.errors.no-patient'));
    // A flow shipped for several devices (the default one reads three oximeters) is deployed on a
    // box that has only some of them: ports, ids and patients left as unset variables mean "no
    // device here", a warning and an idle node, not an error.
    const unset = [
      ...('problems' in parsed ? parsed.problems.filter((p) => p.key === 'unset-port').map((p) => p.params!.name!) : []),
      ...[deviceId, patient].map((v) => /^\$\{(\w+)\}$/.exec(v)?.[1]).filter((x): x is string => x !== undefined),
    ];
    const portUnset = 'problems' in parsed && parsed.problems.some((p) => p.key === 'unset-port');
    if (portUnset && problems.length === unset.length) {
      node.status({ fill: 'grey', shape: 'ring', text: RED._('mcps-serial-device.status.not-configured', { names: unset.join(', ') }) });
      node.warn(`mcps-serial-device: ${RED._('mcps-serial-device.status.not-configured', { names: unset.join(', ') })}; idle`);
      return;
    }
    if (problems.length > 0 || !('settings' in parsed)) {
      node.status({ fill: 'red', shape: 'ring', text: problems[0]! });
      node.error(`mcps-serial-device: ${problems.join('; ')}`);
      return;
    }
    const port = parsed.settings;
    const path = port.path;
    // A fresh decoder for each (re)opened port, so a frame cut by an unplug never joins the bytes
    // after it; its sequence numbers continue where the previous one stopped (no reading counted twice).
    let decoder = decoderFor(port.format, path);
    let seqBase = 0;
    let lastSeq = 0;
    let opens = 0;
    let readings = 0;
    let rejected = 0;
    let refused = 0;
    const status = throttledStatus(node);
    const link = new SerialLink({
      path,
      baudRate: port.baudRate,
      dataBits: port.dataBits,
      parity: port.parity,
      stopBits: port.stopBits,
      reconnectMs: port.reconnectMs,
      maxReconnectMs: port.maxReconnectMs,
      staleAfterMs: port.staleAfterMs,
      onOpen: () => {
        if (opens++ === 0) return;
        decoder = decoderFor(port.format, path);
        seqBase = lastSeq;
      },
      onData: (chunk) => {
        const receivedAt = Date.now();
        rt?.recordSerial({ format: port.format, deviceId, patient, data: chunk });
        for (const decoded of decoder.push(chunk)) {
          const ev = decoded.type === 'readings' && seqBase > 0 ? { ...decoded, seq: decoded.seq + seqBase } : decoded;
          if (ev.type === 'readings') {
            lastSeq = Math.max(lastSeq, ev.seq);
            link.frameReceived();
            for (const r of eventReadings(ev, { deviceId, patient, receivedAt })) {
              if (!rt) {
                readings++;
                node.send([{ topic: deviceId, payload: r }, null]);
                continue;
              }
              rt.ingest(r).then(
                (res) => {
                  if (!('journalId' in res)) return;
                  readings++;
                  node.send([{ topic: deviceId, payload: r, journalId: res.journalId }, null]);
                },
                (err: Error) => {
                  refused++;
                  status.set(() => ({ fill: 'red', shape: 'dot', text: RED._('mcps-serial-device.status.refused', { count: refused }) }));
                  if (refused === 1 || refused % 1000 === 0) node.error(`${path}: ${err.message} (${refused} refused so far)`);
                },
              );
            }
          } else {
            rejected++;
            rt?.reject({ at: receivedAt, source: `serial:${path}`, reason: ev.reason, raw: ev.raw });
            node.send([null, { topic: deviceId, payload: Buffer.from(ev.raw), error: ev.reason }]);
          }
        }
        status.set(() => ({ fill: 'green', shape: 'dot', text: RED._('mcps-serial-device.status.receiving', { count: readings, rejected }) }));
      },
      onState: (s) => {
        // A stale port is open (and being watched): the local stack waits for open ports before its devices start.
        rt?.serialState(path, s.state === 'open' || s.state === 'stale');
        if (s.state === 'connecting') status.set(() => ({ fill: 'yellow', shape: 'ring', text: RED._('mcps-serial-device.status.connecting', { path }) }));
        else if (s.state === 'open') status.set(() => ({ fill: 'green', shape: 'dot', text: RED._('mcps-serial-device.status.open', { path }) }));
        else if (s.state === 'error') {
          status.set(() => ({ fill: 'red', shape: 'ring', text: RED._('mcps-serial-device.status.error', { reason: s.reason }) }));
          node.warn(`${path}: ${s.reason} (retrying)`);
        } else if (s.state === 'stale') {
          const seconds = Math.round(s.silentMs / 1000);
          status.set(() => ({ fill: 'yellow', shape: 'dot', text: RED._('mcps-serial-device.status.stale', { seconds }) }));
          node.warn(`${path}: no valid frame from ${deviceId} for ${seconds} s: stale; reopening the port until frames come back`);
        }
      },
    });
    const linkEntry = { deviceId, status: link.status };
    rt?.serialLinks.add(linkEntry);
    node.on('close', (_removed: boolean, done: () => void) => {
      status.stop();
      rt?.serialLinks.delete(linkEntry);
      link.close().then(() => done(), () => done());
    });
  }
  RED.nodes.registerType('mcps-serial-device', SerialDeviceNode);
};
