/**
 * Which of Node-RED's own core nodes the gateway loads (config `editor.coreNodes`).
 *
 * The gateway's flows are built from our nodes (mcps-*); Node-RED's full core palette costs the
 * process about 14 MB of V8 heap and 20 MB of resident memory (http request alone 3.5 MB: its HTTP
 * client; the HTML, mqtt and JSON nodes 1.3-1.6 MB each), measured with Node-RED 4.1 on its own.
 * On a Raspberry-Pi-class box that is an eighth of the gateway's footprint for nodes most wards
 * never wire. So by default the gateway loads the small everyday ones (DEFAULT_CORE_NODES: inject,
 * debug, link, catch/status/complete, comment, switch, change, range, delay, trigger, filter,
 * split/join, sort, batch) plus every core node its flow file uses at start, so an existing flow
 * that wires e.g. a function node keeps running unchanged. `"all"` loads the stock palette;
 * a list names what to load (a set's name as Node-RED's palette manager shows it, e.g. "function",
 * "httprequest", "JSON", or any node type of it, e.g. "http request", "json").
 *
 * Node-RED is told through its own `nodesExcludes` setting (the file names of the sets left out).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** One core node file: its set name (as Node-RED's palette manager shows it) and the node types it registers. */
export interface CoreNodeSet {
  /** File name, e.g. "21-httprequest.js" (what Node-RED's nodesExcludes takes). */
  readonly file: string;
  /** Set name, e.g. "httprequest". */
  readonly set: string;
  /** Node types it registers, e.g. ["http request"]. */
  readonly types: readonly string[];
}

export type CoreNodesSetting = 'all' | readonly string[];

/** Loaded unless the config says otherwise: the everyday nodes, each a fraction of a MB. */
export const DEFAULT_CORE_NODES: readonly string[] = [
  'inject', 'debug', 'complete', 'catch', 'status', 'link', 'comment', 'junction',
  'switch', 'change', 'range', 'delay', 'trigger', 'rbe', 'split', 'sort', 'batch',
];

/** Always loaded: Node-RED itself relies on them (placeholder of unknown types, the global environment node). */
const ALWAYS = ['unknown', 'global-config'];

/** Config nodes that network nodes offer in their edit dialogs (TLS settings, an HTTP proxy). */
const NETWORK_SETS = new Set(['mqtt', 'httpin', 'httprequest', 'websocket', 'tcpin', 'udp']);
const NETWORK_COMPANIONS = ['tls', 'httpproxy'];

/** The directory of Node-RED's core nodes, as Node-RED itself finds it (node-red/lib/red.js). */
export function coreNodesDir(): string {
  const nodeRedDir = dirname(require.resolve('node-red'));
  return dirname(require.resolve('@node-red/nodes', { paths: [nodeRedDir] }));
}

/**
 * The core node files under `dir`, found as Node-RED's registry finds them (a .js file with an .html
 * beside it; lib, icons, locales, test and node_modules folders skipped), each with the types its
 * source registers.
 */
export function listCoreNodeSets(dir: string = coreNodesDir()): CoreNodeSet[] {
  const out: CoreNodeSet[] = [];
  const walk = (d: string): void => {
    for (const fn of readdirSync(d).sort()) {
      const p = join(d, fn);
      if (statSync(p).isDirectory()) {
        if (!/^(\..*|lib|icons|node_modules|test|locales|examples)$/.test(fn)) walk(p);
        continue;
      }
      if (!/\.c?js$/.test(fn)) continue;
      try {
        statSync(p.replace(/\.c?js$/, '.html'));
      } catch {
        continue;
      }
      const src = readFileSync(p, 'utf8');
      const types = [...src.matchAll(/registerType\(\s*(['"])([^'"]+)\1/g)].map((m) => m[2]!);
      out.push({ file: fn, set: fn.replace(/^\d+-/, '').replace(/\.c?js$/, ''), types });
    }
  };
  walk(dir);
  return out;
}

/** The node types a flow file uses (empty when it is missing or not a flow: Node-RED reports that itself). */
export function flowNodeTypes(flowPath: string): Set<string> {
  try {
    const flow = JSON.parse(readFileSync(flowPath, 'utf8')) as unknown;
    const nodes = Array.isArray(flow) ? flow : Array.isArray((flow as { flows?: unknown })?.flows) ? (flow as { flows: unknown[] }).flows : [];
    return new Set(nodes.map((n) => (n as { type?: unknown } | null)?.type).filter((t): t is string => typeof t === 'string'));
  } catch {
    return new Set();
  }
}

/** Whether `name` (a setting's entry) names this set: its set name or one of its types, in any case. */
const names = (s: CoreNodeSet, name: string): boolean => {
  const n = name.toLowerCase();
  return s.set.toLowerCase() === n || s.types.some((t) => t.toLowerCase() === n);
};

/** Entries of a coreNodes list that name no core node set (for a clear config error). */
export function unknownCoreNodes(setting: readonly string[], sets: readonly CoreNodeSet[]): string[] {
  return setting.filter((name) => !sets.some((s) => names(s, name)));
}

/**
 * The core node files to leave out (Node-RED's nodesExcludes) for a setting, keeping every set the
 * flow uses. `"all"`: none left out.
 */
export function coreNodesExcludes(setting: CoreNodesSetting, sets: readonly CoreNodeSet[], flowTypes: ReadonlySet<string>): string[] {
  if (setting === 'all') return [];
  const wanted = [...ALWAYS, ...setting];
  const keep = new Set(sets.filter((s) => wanted.some((w) => names(s, w)) || s.types.some((t) => flowTypes.has(t))).map((s) => s.set));
  if ([...keep].some((s) => NETWORK_SETS.has(s))) for (const c of NETWORK_COMPANIONS) keep.add(c);
  return sets.filter((s) => !keep.has(s.set)).map((s) => basename(s.file));
}
