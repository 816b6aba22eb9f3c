/**
 * The Kubernetes deployment, checked offline: `helm lint` and `helm template` of infra/k8s/fairscribe
 * (helm 3.22 built by infra/helm.sh), every rendered object validated against the Kubernetes OpenAPI
 * schemas by kubernetes-validate (PyPI, strict; infra/kubernetes-validate.sh), the objects' wiring
 * (queues, GPU pools, spot drain, budgets, config that our config parser accepts), and the values file
 * for the official Temporal chart parsed and its keys checked against that chart's values for Server 1.29.1.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../common/config';
import { BACKEND_TASK_QUEUE, SEARCH_ATTRIBUTE_NAMES, TASK_QUEUES } from '../../common/constants';

const ROOT = path.resolve(__dirname, '../..');
const CHART = path.join(ROOT, 'infra/k8s/fairscribe');
const KUBE_VERSION = '1.33.0';

const tool = (script: string) =>
  execFileSync('bash', [path.join(ROOT, 'infra', script)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n').pop()!;
const helm = tool('helm.sh');
const kubernetesValidate = tool('kubernetes-validate.sh');

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-k8s-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: any };

/** `helm template` with extra values; returns the file and its parsed objects. */
function render(name: string, values: Record<string, unknown> = {}): { file: string; objects: K8sObject[] } {
  const valuesFile = path.join(tmp, `${name}-values.json`);
  fs.writeFileSync(valuesFile, JSON.stringify(values));
  const out = execFileSync(helm, ['template', 'fs', CHART, '--kube-version', KUBE_VERSION, '-f', valuesFile], { encoding: 'utf8' });
  const file = path.join(tmp, `${name}.yaml`);
  fs.writeFileSync(file, out);
  const objects = parseAllDocuments(out)
    .map((d) => d.toJS() as K8sObject)
    .filter(Boolean);
  return { file, objects };
}

function validate(file: string): void {
  const r = spawnSync(kubernetesValidate, ['--strict', '-k', KUBE_VERSION, file], { encoding: 'utf8' });
  const failures = (r.stdout + r.stderr).split('\n').filter((l) => /^(ERROR|WARN)/.test(l));
  expect(failures).toEqual([]);
  expect(r.status).toBe(0);
}

const find = (objs: K8sObject[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name);

test('helm lint passes', () => {
  const r = spawnSync(helm, ['lint', CHART, '--kube-version', KUBE_VERSION], { encoding: 'utf8' });
  expect(r.stdout).toContain('0 chart(s) failed');
  expect(r.status).toBe(0);
});

test('the default render: every object valid, one inference fleet per queue, wiring as the code expects', () => {
  const { file, objects } = render('default');
  validate(file);
  const values = parse(fs.readFileSync(path.join(CHART, 'values.yaml'), 'utf8'));

  // Each enabled backend: a Deployment whose entry point exists and serves that backend's task queue.
  const enabled = Object.entries(values.inference as Record<string, any>).filter(([, w]) => w.enabled);
  expect(enabled.map(([b]) => b).sort()).toEqual(['cpu', 'gpu-reserved', 'gpu-spot']);
  for (const [backend, w] of enabled) {
    const d = find(objects, 'Deployment', `fs-fairscribe-${backend}`)!;
    expect(d).toBeDefined();
    const c = d.spec.template.spec.containers[0];
    expect(fs.existsSync(path.join(ROOT, c.command[1]))).toBe(true);
    expect(fs.readFileSync(path.join(ROOT, c.command[1]), 'utf8')).toContain(`runInferenceEntry('${backend}')`);
    expect(d.metadata.labels!['fairscribe.io/task-queue']).toBe(BACKEND_TASK_QUEUE[backend as keyof typeof BACKEND_TASK_QUEUE]);
    expect(d.spec.replicas).toBe(w.replicas);
    // A budget for every fleet, selecting exactly its pods.
    const pdb = find(objects, 'PodDisruptionBudget', `fs-fairscribe-${backend}`)!;
    expect(pdb.spec.selector.matchLabels).toEqual(d.spec.selector.matchLabels);
    expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
  }

  // GPU fleets run the Dockerfile's cuda target and ask for CUDA; the rest run the cpu image.
  for (const [backend, w] of enabled) {
    const c = find(objects, 'Deployment', `fs-fairscribe-${backend}`)!.spec.template.spec.containers[0];
    const env = Object.fromEntries((c.env ?? []).map((e: any) => [e.name, e.value]));
    if (backend.startsWith('gpu-')) {
      expect(w.gpu).toBe(true);
      expect(c.image).toBe(`${values.image.repository}:${values.image.cuda.tag}`);
      expect(env.WHISPER_EP).toBe('cuda');
    } else {
      expect(c.image).toBe(`${values.image.repository}:${values.image.tag}`);
      expect(env.WHISPER_EP).toBeUndefined();
    }
  }
  expect(find(objects, 'Deployment', 'fs-fairscribe-api')!.spec.template.spec.containers[0].image).toBe(`${values.image.repository}:${values.image.tag}`);

  const reserved = find(objects, 'Deployment', 'fs-fairscribe-gpu-reserved')!.spec.template.spec;
  expect(reserved.containers[0].resources.limits['nvidia.com/gpu']).toBe(1);
  expect(reserved.nodeSelector).toEqual({ 'fairscribe.io/pool': 'gpu-reserved' });

  const spot = find(objects, 'Deployment', 'fs-fairscribe-gpu-spot')!.spec.template.spec;
  expect(spot.tolerations.map((t: any) => t.key)).toEqual(
    expect.arrayContaining(['cloud.google.com/gke-spot', 'kubernetes.azure.com/scalesetpriority', 'eks.amazonaws.com/capacityType']),
  );
  // SIGTERM starts the drain; Kubernetes waits the drain deadline plus a margin before SIGKILL.
  const cm = find(objects, 'ConfigMap', 'fs-fairscribe-config')!;
  expect(spot.terminationGracePeriodSeconds).toBe(Number(cm.data.DRAIN_DEADLINE_S) + values.drain.marginSeconds);
  expect(spot.terminationGracePeriodSeconds).toBeGreaterThan(Number(cm.data.DRAIN_DEADLINE_S));

  // API: HPA on its Deployment, a budget, probes on our health routes.
  const hpa = find(objects, 'HorizontalPodAutoscaler', 'fs-fairscribe-api')!;
  expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'fs-fairscribe-api' });
  const api = find(objects, 'Deployment', 'fs-fairscribe-api')!;
  expect(api.spec.replicas).toBeUndefined(); // the HPA owns it
  expect(api.spec.template.spec.containers[0].readinessProbe.httpGet.path).toBe('/readyz');
  expect(find(objects, 'PodDisruptionBudget', 'fs-fairscribe-api')).toBeDefined();
  expect(find(objects, 'Deployment', 'fs-fairscribe-orchestration')!.spec.template.spec.containers[0].command[1]).toBe('workers/orchestration.ts');

  // The ConfigMap and Secret together are a configuration our parser accepts, with S3 and the metrics ports.
  const secret = find(objects, 'Secret', 'fs-fairscribe-secrets')!;
  const config = loadConfig({ ...cm.data, ...secret.stringData });
  expect(config.blobStore.kind).toBe('s3');
  expect(config.metricsPort).toBe(values.metrics.port);
  expect(config.temporalMetricsPort).toBe(values.metrics.temporalPort);

  // The registration Job creates every search attribute the workflows set.
  const job = find(objects, 'Job', 'fs-fairscribe-search-attributes')!;
  const script = job.spec.template.spec.containers[0].command.join(' ');
  for (const name of SEARCH_ATTRIBUTE_NAMES) expect(script).toContain(name);
  expect(script).toContain('temporal operator search-attribute create');
  expect(job.metadata.annotations!['helm.sh/hook']).toBe('post-install,post-upgrade');
});

test('the Dockerfile: a cuda target installs onnxruntime-node with its CUDA 12 provider; the cpu image stays the default', () => {
  const dockerfile = fs.readFileSync(path.join(ROOT, 'infra', 'k8s', 'Dockerfile'), 'utf8');
  const stages = [...dockerfile.matchAll(/^FROM (\S+) AS (\S+)$/gm)].map((m) => ({ image: m[1], name: m[2], at: m.index! }));
  expect(stages.map((s) => s.name)).toEqual(['node', 'cuda', 'cpu']); // last = what a plain `docker build` makes
  const cuda = dockerfile.slice(stages[1]!.at, stages[2]!.at);
  expect(stages[1]!.image).toMatch(/^nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-/); // the CUDA EP of onnxruntime 1.30: CUDA 12, cuDNN 9
  expect(cuda).toMatch(/^ENV ONNXRUNTIME_NODE_INSTALL=cuda12$/m);
  const cpu = dockerfile.slice(stages[2]!.at);
  // the cpu image skips the CUDA binaries (npm ci would download them on linux/x64 by default), by environment
  // variable: npm 11 warns about, and npm 12 drops, the old .npmrc keys
  expect(cpu).toMatch(/^RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci /m);
  expect(fs.readFileSync(path.join(ROOT, '.npmrc'), 'utf8')).not.toMatch(/onnxruntime/);
  expect(cuda).toMatch(/libonnxruntime_providers_cuda\.so/); // the build fails if they did not arrive
  expect(cuda).toMatch(/^ENV WHISPER_EP=cuda$/m);
});

test('other values render valid objects too: an existing Secret, no HPA, the on-demand GPU fleet', () => {
  const { file, objects } = render('variant', {
    secrets: { existingSecret: 'prod-fairscribe' },
    api: { autoscaling: { enabled: false } },
    inference: { 'gpu-ondemand': { enabled: true, replicas: 1 } },
    models: { volume: null },
  });
  validate(file);
  expect(objects.some((o) => o.kind === 'Secret')).toBe(false);
  expect(objects.some((o) => o.kind === 'HorizontalPodAutoscaler')).toBe(false);
  expect(find(objects, 'Deployment', 'fs-fairscribe-api')!.spec.replicas).toBe(2);
  expect(find(objects, 'Deployment', 'fs-fairscribe-gpu-ondemand')).toBeDefined();
  expect(find(objects, 'Deployment', 'fs-fairscribe-cpu')!.spec.template.spec.containers[0].envFrom[1].secretRef.name).toBe('prod-fairscribe');
});

/**
 * The keys the official chart (temporalio/helm-charts charts/temporal, the version whose values.yaml pins
 * temporalio/server 1.29.1) reads, as far as our values file uses them. `true` = free-form below.
 */
const SERVICE_KEYS = { service: true, ingress: true, metrics: true, deploymentLabels: true, deploymentAnnotations: true, podAnnotations: true, podLabels: true, resources: true, nodeSelector: true, tolerations: true, affinity: true, additionalEnv: true, containerSecurityContext: true, topologySpreadConstraints: true, podDisruptionBudget: true };
const SQL_KEYS = { driver: true, host: true, port: true, database: true, user: true, password: true, existingSecret: true, secretName: true, maxConns: true, maxIdleConns: true, maxConnLifetime: true, connectAttributes: true, tls: true };
const STORE_KEYS = { driver: true, sql: SQL_KEYS, cassandra: true };
const TEMPORAL_CHART_KEYS = {
  nameOverride: true, fullnameOverride: true, debug: true, imagePullSecrets: true, serviceAccount: true, additionalAnnotations: true, additionalLabels: true, extraObjects: true,
  server: {
    enabled: true, image: { repository: true, tag: true, pullPolicy: true }, useEntrypointScript: true, configMapsToMount: true, replicaCount: true, metrics: true,
    deploymentLabels: true, deploymentAnnotations: true, podAnnotations: true, podLabels: true, secretLabels: true, secretAnnotations: true, resources: true,
    nodeSelector: true, tolerations: true, affinity: true, additionalVolumes: true, additionalVolumeMounts: true, additionalEnv: true, additionalInitContainers: true, securityContext: true,
    config: {
      logLevel: true, numHistoryShards: true, tls: true, authorization: true,
      persistence: { defaultStore: true, additionalStores: true, default: STORE_KEYS, visibility: STORE_KEYS },
      namespaces: { create: true, namespace: true },
    },
    // read by templates/server-dynamicconfigmap.yaml (toYaml .Values.server.dynamicConfig)
    dynamicConfig: true,
    frontend: SERVICE_KEYS, internalFrontend: { enabled: true, ...SERVICE_KEYS }, history: SERVICE_KEYS, matching: SERVICE_KEYS, worker: SERVICE_KEYS,
  },
  admintools: { enabled: true, image: { repository: true, tag: true, pullPolicy: true }, service: true, resources: true, nodeSelector: true, tolerations: true, affinity: true, additionalEnv: true },
  web: { enabled: true, replicaCount: true, image: true, service: true, ingress: true, resources: true, nodeSelector: true, tolerations: true, affinity: true, additionalEnv: true },
  schema: { createDatabase: { enabled: true }, setup: { enabled: true, backoffLimit: true }, update: { enabled: true, backoffLimit: true }, resources: true },
  elasticsearch: { enabled: true }, prometheus: { enabled: true }, grafana: { enabled: true }, cassandra: { enabled: true }, mysql: { enabled: true },
};

/** Key paths of `values` that the allowed tree does not know. */
function unknownKeys(values: unknown, allowed: unknown, at = ''): string[] {
  if (allowed === true || values === null || typeof values !== 'object' || Array.isArray(values)) return [];
  return Object.entries(values as Record<string, unknown>).flatMap(([k, v]) => {
    const next = (allowed as Record<string, unknown>)[k];
    if (next === undefined) return [`${at}${k}`];
    return unknownKeys(v, next, `${at}${k}.`);
  });
}

test('temporal-values.yaml: known keys, the measured server version, PostgreSQL, fairness and one partition per queue', () => {
  const values = parse(fs.readFileSync(path.join(ROOT, 'infra/k8s/temporal-values.yaml'), 'utf8'));
  expect(unknownKeys(values, TEMPORAL_CHART_KEYS)).toEqual([]);

  // The same server version as the Temporal CLI the tests run on.
  const cliVersion = execFileSync(process.env.TEMPORAL_BIN ?? tool('temporal-cli.sh'), ['--version'], { encoding: 'utf8' });
  const server = /Server (\d+\.\d+\.\d+)/.exec(cliVersion)![1];
  expect(values.server.image.tag).toBe(server);
  expect(values.admintools.image.tag.startsWith(`${server}-`)).toBe(true);

  for (const store of ['default', 'visibility']) {
    expect(values.server.config.persistence[store]).toMatchObject({ driver: 'sql', sql: { driver: 'postgres12' } });
  }
  expect(values.server.config.numHistoryShards).toBeGreaterThanOrEqual(512);

  const dc = values.server.dynamicConfig;
  expect(dc['matching.enableFairness']).toEqual([{ value: true }]);
  for (const key of ['matching.numTaskqueueReadPartitions', 'matching.numTaskqueueWritePartitions']) {
    const byQueue = Object.fromEntries(dc[key].map((e: any) => [e.constraints.taskQueueName, e.value]));
    // Every task queue we use, with the number 1 (a string would be ignored by the server).
    expect(byQueue).toEqual(Object.fromEntries(Object.values(TASK_QUEUES).map((q) => [q, 1])));
  }
});
