/**
 * MQTT topic filter matching (MQTT 3.1.1 section 4.7): `+` matches one level, a trailing `#` any
 * number of levels (including none). Topics starting with `$` are not matched by wildcards at the
 * first level.
 */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return i === f.length - 1;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
