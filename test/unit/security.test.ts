// A container's capability sets as pod/security.ts works them out: containerd's order of add
// and drop, the non-root rule, privileged; and the field checks.
import t from 'tap';
import { CAPABILITIES, DEFAULT_CAPABILITIES, capabilityNames, capabilitySets, checkEscalation } from '../../src/pod/security.js';
import { securityContext, manifestFields } from '../../src/pod/fields.js';

const n = (name: string) => (CAPABILITIES as readonly string[]).indexOf(name);

t.test("add and drop in containerd's order: ALL first, then names, a drop always winning", async (t) => {
  t.same(
    capabilityNames(undefined),
    CAPABILITIES.filter((c) => (DEFAULT_CAPABILITIES as readonly string[]).includes(c)),
  );
  t.same(
    capabilityNames({ capabilities: { add: ['ALL'], drop: ['SYS_ADMIN'] } }),
    CAPABILITIES.filter((c) => c !== 'SYS_ADMIN'),
  );
  t.same(capabilityNames({ capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] } }), ['NET_ADMIN'], 'drop ALL, then the named add');
  t.notOk(capabilityNames({ capabilities: { add: ['NET_ADMIN'], drop: ['NET_ADMIN'] } }).includes('NET_ADMIN'));
  t.same(capabilityNames({ privileged: true, capabilities: { drop: ['ALL'] } }), [...CAPABILITIES], 'privileged: every one');
});

t.test('a non-root user: only what is added by name, and not dropped, is effective and ambient', async (t) => {
  t.same(capabilitySets({ capabilities: { add: ['ALL'] } }, 1000).ambient, [], 'ALL is never ambient');
  t.same(capabilitySets({ capabilities: { add: ['NET_ADMIN', 'KILL'], drop: ['KILL'] } }, 1000).effective, [n('NET_ADMIN')]);
  const root = capabilitySets(undefined, 0);
  t.same([root.inheritable, root.ambient], [[], []]);
  t.same(root.effective, root.bounding);
});

t.test('allowPrivilegeEscalation false cannot go with privileged or SYS_ADMIN, however given', async (t) => {
  t.throws(() => checkEscalation({ allowPrivilegeEscalation: false, capabilities: { add: ['ALL'] } }, 'x'), {
    name: 'InputError',
    field: 'x',
  });
  t.doesNotThrow(() => checkEscalation({ allowPrivilegeEscalation: false, capabilities: { add: ['ALL'], drop: ['SYS_ADMIN'] } }, 'x'));
  t.throws(() => securityContext({ privileged: true, allowPrivilegeEscalation: false }, 'sc', manifestFields()), {
    name: 'InputError',
    field: 'sc.allowPrivilegeEscalation',
  });
  t.same(securityContext({ capabilities: { add: ['cap_net_admin'] } }, 'sc', manifestFields()).capabilities, { add: ['NET_ADMIN'] });
});
