import t from 'tap';
import { hostsFile, resolvConf } from '../../src/storage/etc.js';
import { newPodSpec, type PodSpec } from '../../src/pod/spec.js';
import { podFromManifest } from '../../src/pod/manifest.js';

const HOST = 'domain corp.example\nsearch corp.example lab.example\nnameserver 10.0.0.2\nnameserver 10.0.0.3\noptions ndots:1 rotate\n';
const pod = (extra: Partial<PodSpec>): PodSpec => ({ ...newPodSpec('web'), ...extra });

t.test('/etc/hosts names the pod on its address, its FQDN first with a subdomain, then the hostAliases', async (t) => {
  t.match(hostsFile(pod({}), undefined), /^127\.0\.1\.1\tweb$/m, 'before it has an address');
  const text = hostsFile(
    pod({ subdomain: 'api', namespace: 'shop', hostAliases: [{ ip: '10.1.2.3', hostnames: ['db', 'db.internal'] }] }),
    '10.88.0.5',
  );
  t.match(text, /^10\.88\.0\.5\tweb\.api\.shop\.svc\.cluster\.local\tweb$/m);
  t.match(text, /^# Entries added by HostAliases\.\n10\.1\.2\.3\tdb\tdb\.internal\n$/m);
  t.match(hostsFile(pod({ subdomain: 'api' }), '10.88.0.5'), /\tweb\.api\.default\.svc\.cluster\.local\tweb$/m, 'namespace default');
});

t.test("resolv.conf: the host's, dnsConfig merged in as the kubelet does, or dnsConfig's alone with None", async (t) => {
  t.equal(resolvConf(pod({}), HOST), HOST, 'without dnsConfig: the host file as it is');
  t.equal(resolvConf(pod({ dnsPolicy: 'ClusterFirst' }), HOST), HOST, 'ClusterFirst is the host resolver here');
  t.equal(
    resolvConf(
      pod({
        dnsConfig: {
          nameservers: ['10.0.0.3', '1.1.1.1', '9.9.9.9'],
          searches: ['lab.example', 'ns1.svc'],
          options: [{ name: 'ndots', value: '5' }, { name: 'edns0' }],
        },
      }),
      HOST,
    ),
    'nameserver 10.0.0.2\nnameserver 10.0.0.3\nnameserver 1.1.1.1\nsearch corp.example lab.example ns1.svc\noptions ndots:5 rotate edns0\n',
    'nameservers and searches added without repeats (three nameservers at most), options replaced by name',
  );
  t.equal(
    resolvConf(
      pod({
        dnsPolicy: 'None',
        dnsConfig: { nameservers: ['192.0.2.53'], searches: ['a.example'], options: [{ name: 'ndots', value: '2' }] },
      }),
      HOST,
    ),
    'nameserver 192.0.2.53\nsearch a.example\noptions ndots:2\n',
    "None: dnsConfig's alone",
  );
});

t.test('hostAliases, dnsConfig and dnsPolicy in a manifest: checked, each error naming its field', async (t) => {
  const doc = (spec: Record<string, unknown>) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'shop' },
    spec: { containers: [{ name: 'a', command: ['true'] }], ...spec },
  });
  const ok = podFromManifest(
    doc({
      subdomain: 'api',
      hostAliases: [{ ip: '10.1.2.3', hostnames: ['db'] }],
      dnsPolicy: 'None',
      dnsConfig: { nameservers: ['192.0.2.53'] },
    }),
  );
  t.same(
    [ok.namespace, ok.subdomain, ok.hostAliases, ok.dnsPolicy, ok.dnsConfig],
    ['shop', 'api', [{ ip: '10.1.2.3', hostnames: ['db'] }], 'None', { nameservers: ['192.0.2.53'] }],
  );
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ hostAliases: [{ ip: 'db', hostnames: ['x'] }] }, 'spec.hostAliases[0].ip', /not an IP address/],
    [{ hostAliases: [{ ip: '10.0.0.1' }] }, 'spec.hostAliases[0].hostnames', /at least one/],
    [{ hostAliases: [{ ip: '10.0.0.1', hostnames: ['Bad_Name'] }] }, 'spec.hostAliases[0].hostnames[0]', /not a DNS name/],
    [{ dnsPolicy: 'None' }, 'spec.dnsConfig.nameservers', /at least one nameserver with dnsPolicy None/],
    [{ dnsPolicy: 'Cluster' }, 'spec.dnsPolicy', /must be one of ClusterFirst, ClusterFirstWithHostNet, Default, None/],
    [{ dnsConfig: { nameservers: ['1.1.1.1', '1.0.0.1', '8.8.8.8', '8.8.4.4'] } }, 'spec.dnsConfig.nameservers', /at most 3, not 4/],
    [{ dnsConfig: { options: [{ name: 'ndots', value: '1 2' }] } }, 'spec.dnsConfig.options[0].value', /one word/],
    [{ dnsConfig: { option: [] } }, 'spec.dnsConfig.option', /did you mean options\?/],
    [{ subdomain: 'API' }, 'spec.subdomain', /DNS-1123 label/],
  ];
  for (const [spec, field, problem] of cases) t.throws(() => podFromManifest(doc(spec)), { name: 'InputError', field, problem }, field);
});
