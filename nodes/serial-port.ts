/**
 * Config node "mcps-serial-port": one serial port and what is attached to it — path, baud rate,
 * framing (data bits, parity, stop bits), the device's wire format and the reconnect delay. Serial
 * device nodes refer to it, so a port is described once and its problems are reported once.
 */
import { parseSerialSettings } from '../gateway/ingest/serial-settings';
import type { NodeAPI, NodeDef, NodeInstance } from './node-red-api';

export = function register(RED: NodeAPI): void {
  function SerialPortNode(this: NodeInstance, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    (this as { portSettings?: unknown }).portSettings = parseSerialSettings({
      path: def.path,
      baud: def.baud,
      dataBits: def.dataBits,
      parity: def.parity,
      stopBits: def.stopBits,
      format: def.format,
      reconnectMs: def.reconnectMs,
      maxReconnectMs: def.maxReconnectMs,
      staleAfterS: def.staleAfterS,
    });
  }
  RED.nodes.registerType('mcps-serial-port', SerialPortNode);
};
