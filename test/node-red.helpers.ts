// node-red-node-test-helper, typed: it ships no declarations; this is the part of its API our tests use.
export interface HelperNode {
  receive(msg: Record<string, unknown>): void;
  on(event: string, cb: (...args: unknown[]) => void): void;
  status: { (...args: unknown[]): void; args?: unknown; lastCall?: { args: unknown[] } };
  error: unknown;
}

export interface Helper {
  init(runtimePath: string, settings?: Record<string, unknown>): void;
  settings(s: Record<string, unknown>): Record<string, unknown>;
  load(nodes: unknown, flow: unknown[], credentials?: Record<string, Record<string, string>>): Promise<void>;
  unload(): Promise<void>;
  getNode(id: string): HelperNode;
  startServer(cb: () => void): void;
  stopServer(cb: () => void): void;
}

/** The helper, initialised with this package's Node-RED. */
export function nodeRedHelper(): Helper {
  const helper = require('node-red-node-test-helper') as Helper;
  helper.init(require.resolve('node-red'));
  return helper;
}
