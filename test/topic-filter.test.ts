import t from 'tap';
import { topicMatches } from '../gateway/ingest/topic-filter';

t.test('MQTT topic filters', async (t) => {
  t.ok(topicMatches('mcps/devices/+/readings', 'mcps/devices/temp-1/readings'));
  t.notOk(topicMatches('mcps/devices/+/readings', 'mcps/devices/temp-1/status'));
  t.notOk(topicMatches('mcps/devices/+/readings', 'mcps/devices/a/b/readings'), '+ is one level');
  t.ok(topicMatches('mcps/devices/temp-1/readings', 'mcps/devices/temp-1/readings'));
  t.notOk(topicMatches('mcps/devices/temp-1/readings', 'mcps/devices/temp-2/readings'));
  t.ok(topicMatches('mcps/#', 'mcps/devices/x/readings'));
  t.ok(topicMatches('mcps/#', 'mcps'), '# includes the parent level');
  t.notOk(topicMatches('#', '$SYS/broker'), 'wildcards do not match $ topics at the first level');
  t.notOk(topicMatches('mcps/devices', 'mcps/devices/x'));
});
