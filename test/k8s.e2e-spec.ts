/**
 * deploy/k8s renders with `kubectl kustomize` and every object is valid against the Kubernetes schemas,
 * offline (docs/operations.md "Kubernetes"). kubectl must be installed: scripts/ensure.sh installs it
 * (Debian's kubernetes-client) when it is missing; this spec fails, not skips, without it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '@tidemark/config';
import { K8sObject, schemaErrors, unknownFields } from './support/k8s-models';
import { SERVICE_COMMAND_FLAGS } from '../apps/cli/src/services';

jest.setTimeout(60_000);

const ROOT = path.resolve(__dirname, '..');
const SERVICES = ['ingestion', 'dedup', 'aggregation', 'recommendation', 'alerting', 'dashboard'];
const PORTS: Record<string, number> = { ingestion: 8080, aggregation: 8081, recommendation: 8082, alerting: 8083, dedup: 8084, dashboard: 8090 };
const SINGLETONS = ['alerting'];
const PARTITIONED = ['dedup', 'aggregation', 'recommendation'];

function render(): K8sObject[] {
  const probe = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      'kubectl is not installed, so deploy/k8s cannot be rendered: run `bash scripts/ensure.sh` (it installs ' +
        `Debian's kubernetes-client) or install kubectl ≥ 1.20 (${probe.error?.message ?? probe.stderr})`,
    );
  }
  const out = execFileSync('kubectl', ['kustomize', path.join(ROOT, 'deploy', 'k8s')], { encoding: 'utf8', maxBuffer: 16 << 20 });
  return parseAllDocuments(out).map((d) => {
    if (d.errors.length > 0) throw new Error(`kubectl rendered invalid YAML: ${d.errors[0].message}`);
    return d.toJS() as K8sObject;
  });
}

const objects = render();
const of = (kind: string) => objects.filter((o) => o.kind === kind) as any[];
const named = (kind: string, name: string) => {
  const o = of(kind).find((x) => x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
};
const selects = (selector: Record<string, string>, labels: Record<string, string> = {}) => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('deploy/k8s', () => {
  it('renders every kind expected, all in the tidemark namespace', () => {
    const kinds = new Set(objects.map((o) => o.kind));
    for (const k of ['Namespace', 'ConfigMap', 'Secret', 'Service', 'Deployment', 'StatefulSet', 'PodDisruptionBudget', 'ServiceMonitor', 'PrometheusRule']) expect(kinds).toContain(k);
    for (const o of objects.filter((o) => o.kind !== 'Namespace')) expect({ o: `${o.kind}/${o.metadata.name}`, ns: o.metadata.namespace }).toEqual({ o: `${o.kind}/${o.metadata.name}`, ns: 'tidemark' });
    for (const o of objects) expect({ o: `${o.kind}/${o.metadata.name}`, partOf: o.metadata.labels?.['app.kubernetes.io/part-of'] }).toEqual({ o: `${o.kind}/${o.metadata.name}`, partOf: 'tidemark' });
  });

  it('every object is valid against its Kubernetes schema', () => {
    const errors = objects.flatMap((o) => schemaErrors(o).map((e) => `${o.kind}/${o.metadata.name}: ${e}`));
    expect(errors).toEqual([]);
  });

  it('no object has a field its kind does not declare', () => {
    expect(unknownFields(objects)).toEqual([]);
  });

  it('the validation catches a wrong type and a misspelt field (so the two tests above can fail)', () => {
    const d = structuredClone(named('Deployment', 'ingestion'));
    d.spec.template.spec.containers[0].resources.requests.cpu = 'a lot';
    expect(schemaErrors(d).join()).toMatch(/resources\/requests\/cpu/);
    const e = structuredClone(named('Deployment', 'ingestion'));
    e.spec.template.spec.containers[0].livenesProbe = e.spec.template.spec.containers[0].livenessProbe;
    expect(unknownFields([e])).toEqual(['Deployment/ingestion.spec.template.spec.containers[0].livenesProbe']);
  });

  it.each(SERVICES)('%s: a Deployment that runs `tidemark service` with probes, resources, non-root and a readiness-first shutdown', (name) => {
    const d = named('Deployment', name);
    const pod = d.spec.template.spec;
    expect(selects(d.spec.selector.matchLabels, d.spec.template.metadata.labels)).toBe(true);
    expect(pod.enableServiceLinks).toBe(false);
    expect(pod.containers).toHaveLength(1);
    const c = pod.containers[0];
    expect(c.image).toBe('tidemark:latest');
    // V8 flags Node refuses in NODE_OPTIONS go on the command line (SERVICE_COMMAND_FLAGS)
    expect(c.command).toEqual(['node', ...SERVICE_COMMAND_FLAGS, 'bin/tidemark.js', 'service', name]);
    expect(c.ports.find((p: any) => p.name === 'http').containerPort).toBe(PORTS[name]);
    // probes on the health endpoints, each answering within its period
    expect(c.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'http' });
    expect(c.startupProbe.httpGet.path).toBe('/health/live');
    for (const p of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
      expect(p.timeoutSeconds).toBeGreaterThanOrEqual(2);
      expect(p.timeoutSeconds).toBeLessThanOrEqual(p.periodSeconds);
    }
    // resources: requests, and a memory limit above the V8 heap it is given
    expect(c.resources.requests.cpu).toBeDefined();
    expect(c.resources.requests.memory).toBeDefined();
    const limitMi = Number(/^(\d+)Mi$/.exec(c.resources.limits.memory)?.[1] ?? Number(/^(\d+)Gi$/.exec(c.resources.limits.memory)?.[1]) * 1024);
    const nodeOptions: string = c.env.find((e: any) => e.name === 'NODE_OPTIONS').value;
    const heap = Number(/--max-old-space-size=(\d+)/.exec(nodeOptions)![1]);
    // the old generation and a young one of two semi-spaces (SERVICE_NODE_OPTIONS), inside the limit
    const semi = Number(/--max-semi-space-size=(\d+)/.exec(nodeOptions)?.[1] ?? 0);
    expect(heap + 2 * semi).toBeLessThan(limitMi);
    if (name !== 'dashboard') expect(semi).toBe(32);
    // not root
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    // readiness first: preStop sleeps while the endpoints drop the pod, within the grace period
    const sleep = Number(c.lifecycle.preStop.exec.command[1]);
    expect(c.lifecycle.preStop.exec.command[0]).toBe('sleep');
    expect(sleep).toBeGreaterThanOrEqual(5);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(sleep + 15);
    // settings and keys
    expect(c.envFrom).toEqual([{ configMapRef: { name: 'tidemark-config' } }, { secretRef: { name: 'tidemark-api-keys' } }]);
  });

  it.each(SERVICES)('%s: a Service and a PodDisruptionBudget select its pods', (name) => {
    const labels = named('Deployment', name).spec.template.metadata.labels;
    const svc = named('Service', name);
    expect(selects(svc.spec.selector, labels)).toBe(true);
    const containerPorts = named('Deployment', name).spec.template.spec.containers[0].ports.map((p: any) => p.name);
    for (const p of svc.spec.ports) expect(containerPorts).toContain(p.targetPort);
    const pdb = named('PodDisruptionBudget', name);
    expect(selects(pdb.spec.selector.matchLabels, labels)).toBe(true);
  });

  it('alerting runs one replica, stopped before a new one starts, and a drain may evict it', () => {
    for (const name of SINGLETONS) {
      const d = named('Deployment', name);
      expect({ name, replicas: d.spec.replicas, strategy: d.spec.strategy.type }).toEqual({ name, replicas: 1, strategy: 'Recreate' });
      expect(named('PodDisruptionBudget', name).spec).toMatchObject({ maxUnavailable: 1 });
    }
    // ingestion scales: two replicas, one kept through a drain
    expect(named('Deployment', 'ingestion').spec.replicas).toBeGreaterThanOrEqual(2);
    expect(named('PodDisruptionBudget', 'ingestion').spec.minAvailable).toBe(1);
    expect(named('Service', 'ingestion').spec.ports.map((p: any) => p.port).sort()).toEqual([8080, 9000]);
  });

  it('dedup, aggregation and recommendation share their partitions by leases: several replicas, rolling updates, spread over nodes', () => {
    const data = named('ConfigMap', 'tidemark-config').data;
    for (const name of PARTITIONED) {
      const d = named('Deployment', name);
      expect({ name, replicas: d.spec.replicas >= 2, strategy: d.spec.strategy }).toEqual({ name, replicas: true, strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } } });
      expect(named('PodDisruptionBudget', name).spec.minAvailable).toBe(1);
      const pod = d.spec.template.spec;
      expect(pod.topologySpreadConstraints).toEqual([
        { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { 'app.kubernetes.io/name': name } } },
      ]);
      // The pod's environment, as the service reads it: group assignment (which refuses OWNED_PARTITIONS).
      const env = Object.fromEntries(pod.containers[0].env.map((e: { name: string; value: string }) => [e.name, e.value]));
      expect(env.OWNED_PARTITIONS).toBeUndefined();
      const config = loadConfig({ ...data, ...env, API_KEYS: 'ingest:ingest-secret-000001,read:read-secret-0000002' });
      expect({ name, assignment: config.partitionAssignment }).toEqual({ name, assignment: 'group' });
    }
  });

  it('NATS (JetStream) and Redis (append-only) keep their data on PersistentVolumes', () => {
    const nats = named('StatefulSet', 'nats');
    expect(nats.spec.template.spec.containers[0].args).toEqual(expect.arrayContaining(['-js', '-sd', '/data', '-m', '8222']));
    expect(nats.spec.volumeClaimTemplates[0].metadata.name).toBe('data');
    expect(named('Service', 'nats').spec.ports.map((p: any) => p.port).sort()).toEqual([4222, 8222]);
    const redis = named('StatefulSet', 'redis');
    expect(redis.spec.template.spec.containers[0].args.join(' ')).toMatch(/--appendonly yes/);
    expect(redis.spec.volumeClaimTemplates[0].metadata.name).toBe('data');
    for (const s of [nats, redis]) {
      expect(s.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
      expect(s.spec.template.spec.containers[0].resources.limits.memory).toBeDefined();
    }
  });

  it('the ConfigMap is a valid configuration, even with every service link present', () => {
    const data = named('ConfigMap', 'tidemark-config').data;
    expect(data.NATS_URL).toBe('nats://nats:4222');
    expect(data.REDIS_URL).toBe('redis://redis:6379');
    const links = Object.fromEntries(of('Service').map((s: any) => [`${s.metadata.name.toUpperCase().replace(/-/g, '_')}_PORT`, `tcp://10.96.0.9:${s.spec.ports[0].port}`]));
    // The pods listen on 0.0.0.0: without real keys in the Secret they refuse to start (protected mode) ...
    expect(() => loadConfig({ ...data, ...links, ...named('Secret', 'tidemark-api-keys').stringData })).toThrow(/^invalid API_KEYS/);
    // ... and with them they do.
    const config = loadConfig({ ...data, ...links, API_KEYS: 'ingest:ingest-secret-000001,read:read-secret-0000002' });
    expect(config.ports.ingestion).toBe(8080);
    expect(config.dashboard.upstreams.alerting).toBe('http://alerting:8083');
    // the URLs name Services that exist, on their ports
    for (const key of ['INGESTION_URL', 'DEDUP_URL', 'AGGREGATION_URL', 'RECOMMENDATION_URL', 'ALERTING_URL']) {
      const u = new URL(data[key]);
      expect(named('Service', u.hostname).spec.ports.map((p: any) => p.port)).toContain(Number(u.port));
    }
  });

  it('the Secret holds placeholders for API_KEYS and the metrics scrape key, which the ServiceMonitor uses', () => {
    expect(Object.keys(named('Secret', 'tidemark-api-keys').stringData)).toEqual(['API_KEYS', 'METRICS_TOKEN']);
    expect(named('ServiceMonitor', 'tidemark').spec.endpoints[0].bearerTokenSecret).toEqual({ name: 'tidemark-api-keys', key: 'METRICS_TOKEN' });
  });

  it('the ServiceMonitor scrapes every Tidemark service and not NATS or Redis', () => {
    const sm = named('ServiceMonitor', 'tidemark');
    const matches = (svc: any) =>
      selects(sm.spec.selector.matchLabels, svc.metadata.labels) &&
      (sm.spec.selector.matchExpressions ?? []).every((e: any) => e.operator === 'In' && e.values.includes(svc.metadata.labels[e.key]));
    const scraped = of('Service').filter(matches).map((s: any) => s.metadata.name).sort();
    expect(scraped).toEqual([...SERVICES].sort());
    for (const e of sm.spec.endpoints) {
      expect(e.path).toBe('/metrics');
      for (const name of SERVICES) expect(named('Service', name).spec.ports.map((p: any) => p.name)).toContain(e.port);
    }
  });

  it('every alert rule names metrics that the services export', () => {
    const source = ['apps', 'libs']
      .flatMap((dir) => fs.readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' }).map((f) => path.join(ROOT, dir, f)))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'))
      .map((f) => fs.readFileSync(f, 'utf8'))
      .join('\n');
    const rules = named('PrometheusRule', 'tidemark').spec.groups.flatMap((g: any) => g.rules);
    expect(rules.length).toBeGreaterThan(0);
    for (const r of rules) {
      expect(r.alert).toMatch(/^Tidemark[A-Za-z]+$/);
      expect(r.labels.severity).toMatch(/^(warning|critical)$/);
      for (const metric of r.expr.match(/tidemark_[a-z_]+/g) ?? []) expect({ alert: r.alert, metric, exported: source.includes(`'${metric}'`) }).toEqual({ alert: r.alert, metric, exported: true });
    }
  });
});
