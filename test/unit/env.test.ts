import t from 'tap';
import { containerArgv, containerEnv, expandVars, DEFAULT_PATH } from '../../src/pod/env.js';
import type { PodSpec } from '../../src/pod/spec.js';

t.test('expandVars follows Kubernetes rules', async (t) => {
  const vars = new Map([
    ['A', 'x'],
    ['B', 'y'],
  ]);
  t.equal(expandVars('$(A)-$(B)', vars), 'x-y');
  t.equal(expandVars('$$(A)', vars), '$(A)', '$$ escapes');
  t.equal(expandVars('$(NOPE)', vars), '$(NOPE)', 'undefined names stay');
  t.equal(expandVars('$A $ $(A', vars), '$A $ $(A', 'lone or unclosed $ stays');
  t.equal(expandVars('cost $$5', vars), 'cost $5');
});

t.test('container environment: defaults, then the list in order', async (t) => {
  const pod = { hostname: 'h1' } as PodSpec;
  const c = {
    name: 'c',
    command: ['echo', '$(GREETING)'],
    args: ['$(PATH)'],
    env: [
      { name: 'GREETING', value: 'hi $(HOSTNAME)' },
      { name: 'LATER', value: '$(EARLIER)' },
      { name: 'EARLIER', value: 'e' },
    ],
  };
  const env = containerEnv(pod, c);
  t.same([...env.keys()], ['PATH', 'HOSTNAME', 'HOME', 'GREETING', 'LATER', 'EARLIER']);
  t.equal(env.get('GREETING'), 'hi h1');
  t.equal(env.get('LATER'), '$(EARLIER)', 'only earlier variables expand');
  t.same(containerArgv(c, env), ['echo', 'hi h1', DEFAULT_PATH]);
});
