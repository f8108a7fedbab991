/**
 * Settings of an external MQTT broker as a field engineer enters them (mcps-mqtt-broker), validated.
 * Pure.
 */
export interface MqttBrokerSettings {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  /** For mqtts:// and wss:// with a private CA: the CA certificate file the broker's certificate is checked against. */
  caFile?: string;
}

/** The settings, or what is wrong with them (pure, for the node and its tests). */
export function parseBrokerSettings(def: { url?: unknown; clientId?: unknown; caFile?: unknown }, creds: { username?: string; password?: string } | undefined, fallbackId: string): { settings: MqttBrokerSettings } | { problem: string } {
  const url = String(def.url ?? '').trim();
  if (!/^(mqtts?|wss?):\/\/[^\s/]+/.test(url)) return { problem: `broker URL "${url}": use mqtt://host:1883, mqtts://host:8883 or ws(s)://…` };
  const clientId = String(def.clientId ?? '').trim() || fallbackId;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(clientId)) return { problem: `client id "${clientId}": 1–64 letters, digits, dot, dash or underscore` };
  const caFile = String(def.caFile ?? '').trim();
  if (caFile && !/^(mqtts|wss):/.test(url)) return { problem: `CA file "${caFile}" is for mqtts:// or wss:// only; the URL is ${url}` };
  if (caFile && !caFile.startsWith('/')) return { problem: `CA file "${caFile}": give an absolute path (e.g. /etc/mcps/tls/hospital-ca.pem)` };
  return { settings: { url, clientId, ...(caFile ? { caFile } : {}), ...(creds?.username ? { username: creds.username } : {}), ...(creds?.password ? { password: creds.password } : {}) } };
}
