import t from 'tap';
import { auditCommands } from '../../../gateway/demo/run-demo.ts';

t.test('the demo prints ready-to-paste replay, explain and (when it exists) query lines', async (t) => {
  const s = auditCommands('var/demo/decisions', true);
  t.match(s, '\n  npm run audit -- replay var/demo/decisions\n');
  t.match(s, '\n  npm run audit -- explain var/demo/decisions <decision-id>\n');
  t.match(s, '\n  npm run audit -- query var/demo/decisions "SELECT reason, count(*) FROM denials GROUP BY 1"\n');
  t.notMatch(auditCommands('var/demo/decisions', false), 'query');
});
