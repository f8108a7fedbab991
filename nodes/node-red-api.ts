/**
 * The slice of Node-RED's runtime API our nodes use, typed here rather than pulling in the
 * community @types/node-red (which lags the 4.x runtime). Handler parameter counts matter: Node-RED
 * inspects `length` of input (msg, send, done) and close (removed, done) handlers, so never give them
 * default or rest parameters.
 */
export interface NodeMessage {
  _msgid?: string;
  payload?: unknown;
  topic?: string;
  [key: string]: unknown;
}

export type NodeStatusFill = 'red' | 'green' | 'yellow' | 'blue' | 'grey';
export interface NodeStatus {
  fill?: NodeStatusFill;
  shape?: 'ring' | 'dot';
  text?: string;
}

export type SendFn = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
export type DoneFn = (err?: Error) => void;

export interface NodeInstance {
  readonly id: string;
  readonly type: string;
  readonly name?: string;
  credentials?: Record<string, string | undefined>;
  on(event: 'input', handler: (msg: NodeMessage, send: SendFn, done: DoneFn) => void): void;
  on(event: 'close', handler: (removed: boolean, done: () => void) => void): void;
  send: SendFn;
  status(s: NodeStatus | Record<string, never>): void;
  log(msg: string): void;
  warn(msg: string): void;
  error(msg: string | Error, m?: NodeMessage): void;
}

export interface NodeDef {
  id: string;
  type: string;
  name?: string;
  [key: string]: unknown;
}

export interface NodeAPI {
  nodes: {
    createNode(node: NodeInstance, def: NodeDef): void;
    registerType(type: string, ctor: (this: NodeInstance, def: NodeDef) => void, opts?: { credentials?: Record<string, { type: 'text' | 'password' }>; settings?: Record<string, { value: unknown; exportable?: boolean }> }): void;
    getNode(id: string): NodeInstance | null;
  };
  settings: Record<string, unknown>;
  /** i18n lookup in this node set's message catalogue: RED._("mcps-batch.status.waiting"). */
  _(key: string, subs?: Record<string, string | number>): string;
}

/** The mcps-serial-port config node as serial device nodes see it (nodes/serial-port.ts). */
export interface SerialPortConfigNode extends NodeInstance {
  /** The validated settings, or the problems (message keys) that stop the port from opening. */
  readonly portSettings: { settings: import('../gateway/ingest/serial-settings').SerialSettings } | { problems: import('../gateway/ingest/serial-settings').SettingsProblem[] };
}
