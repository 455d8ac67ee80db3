import t from 'tap';
import { checkArgsSize, containerArgv, containerEnv, expandVars, DEFAULT_PATH, MAX_ARG_STRLEN } from '../../src/pod/env.js';
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

t.test('values that repeat each other are stopped at MAX_ARG_STRLEN, naming the container and variable', async (t) => {
  // The audit's case: 6 KB of env where each variable repeats the one before eight times would
  // expand to 301 MB; the expansion stops at the kernel's limit for one string instead.
  const env = [{ name: 'A', value: 'x'.repeat(6000) }];
  for (let i = 0; i < 8; i++) env.push({ name: `B${i}`, value: (i ? `$(B${i - 1})` : '$(A)').repeat(8) });
  t.throws(() => containerEnv({ hostname: 'h' }, { name: 'web', command: [], args: [], env }), {
    name: 'InputError',
    field: 'container web: env B1',
    problem: `its $(VAR) expansion is ${MAX_ARG_STRLEN} bytes or more: longer than execve takes (MAX_ARG_STRLEN)`,
  });
  t.throws(
    () => containerArgv({ name: 'web', command: ['$(A)$(A)'], args: [], env: [] }, new Map([['A', 'é'.repeat(40_000)]])),
    { name: 'InputError', field: 'container web: command[0]' },
    'bytes, not characters, are counted: 80,000 two-byte characters are too many',
  );
  t.equal(
    expandVars('$(A)', new Map([['A', 'x'.repeat(MAX_ARG_STRLEN - 1)]])).length,
    MAX_ARG_STRLEN - 1,
    'one byte under the limit is fine',
  );
});

t.test('an unterminated "$(" and a "$(" far from its ")" are left as written', async (t) => {
  const unterminated = '$('.repeat(30_000) + 'x';
  t.equal(expandVars(unterminated, new Map([['A', '1']])), unterminated);
  const far = '$(A'.repeat(20_000) + ')';
  t.equal(expandVars(far, new Map([['A', '1']])), '$(A'.repeat(19_999) + '1', 'only the last "$(A)" is a name');
});

t.test('a command and environment larger than execve takes (ARG_MAX) is refused, naming the container', async (t) => {
  const big = Array.from({ length: 20 }, (_, i) => `V${i}=${'x'.repeat(120_000)}`);
  t.throws(() => checkArgsSize(['sh'], big, 'container web'), {
    name: 'InputError',
    field: 'container web',
    problem: /^its command and environment take 2400\d+ bytes: more than execve takes \(2097152, ARG_MAX\)$/,
  });
  t.doesNotThrow(() => checkArgsSize(['sh'], big.slice(0, 17), 'container web'));
});
