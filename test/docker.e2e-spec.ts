/**
 * Dockerfile and docker-compose.yml, checked offline (no Docker engine on these machines; docs/operations.md
 * "Docker"): a supported Node LTS base, a multi-stage build whose runtime stage runs as a non-root user without
 * bench/ or dev dependencies, and a compose file with healthchecks that publishes only the HTTP ports.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import { parse } from 'yaml';
import { SERVICE_COMMAND_FLAGS, SERVICE_NODE_OPTIONS } from '../apps/cli/src/services';

const ROOT = path.resolve(__dirname, '..');
const SERVICES: Record<string, number> = { ingestion: 8080, aggregation: 8081, recommendation: 8082, alerting: 8083, dedup: 8084, dashboard: 8090 };

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  body: Instruction[];
}

/** Instructions (continuations joined, comments dropped), split into stages; `ARG`s before FROM substituted. */
function dockerfile(text: string): Stage[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op, rest] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    if (!op) throw new Error(`unreadable Dockerfile line: ${line}`);
    const upper = op.toUpperCase();
    if (upper === 'ARG' && stages.length === 0) {
      const [k, v] = rest.split('=');
      args[k] = v ?? '';
    } else if (upper === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest)!;
      stages.push({ from: m[1].replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => args[a ?? b]), name: m[2], body: [] });
    } else {
      if (stages.length === 0) throw new Error(`${op} before FROM`);
      stages[stages.length - 1].body.push({ op: upper, args: rest });
    }
  }
  return stages;
}

const stages = dockerfile(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
const runtime = stages[stages.length - 1];
const compose = parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, any>;
  volumes: Record<string, unknown>;
};
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

describe('Dockerfile', () => {
  it('builds on a supported Node LTS image in every stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s.from).toMatch(/^node:(22|24)(\.\d+)*-(bookworm|trixie)-slim$|^node:(22|24)(\.\d+)*$/);
  });

  it('runs as a numeric non-root user in the runtime stage, set before the entry point', () => {
    const users = runtime.body.filter((i) => i.op === 'USER');
    expect(users).toHaveLength(1);
    const [uid, gid] = users[0].args.split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    expect(gid).toBeGreaterThan(0);
    // deploy/k8s runs the pods as this user
    expect(fs.readFileSync(path.join(ROOT, 'deploy', 'k8s', 'ingestion.yaml'), 'utf8')).toContain(`runAsUser: ${uid}`);
    const ops = runtime.body.map((i) => i.op);
    expect(ops.indexOf('USER')).toBeLessThan(ops.indexOf('ENTRYPOINT'));
    expect(ops.slice(ops.indexOf('USER')).filter((o) => o === 'RUN' || o === 'COPY' || o === 'ADD')).toEqual([]);
    // the V8 flags the services are measured with: those Node refuses in NODE_OPTIONS on the command line
    expect(JSON.parse(runtime.body.find((i) => i.op === 'ENTRYPOINT')!.args)).toEqual(['node', ...SERVICE_COMMAND_FLAGS, 'bin/tidemark.js']);
    expect(runtime.body.find((i) => i.op === 'ENV')!.args).toContain(`NODE_OPTIONS=${SERVICE_NODE_OPTIONS.join(' ')}`);
  });

  it('the runtime stage has no bench/, no sources of the build and production dependencies only', () => {
    const copies = runtime.body.filter((i) => i.op === 'COPY' || i.op === 'ADD').map((i) => i.args);
    for (const c of copies) {
      expect(c).not.toMatch(/\bbench\b/);
      expect(c).not.toMatch(/^\.\s|\s\.\s|^(--\S+\s+)*\.\s+\.$/); // no `COPY . .`
      expect(c).not.toMatch(/^(apps|libs)\s/); // TypeScript sources: only the compiled dist/ and the dashboard's page
    }
    // node_modules come from a stage that pruned the dev dependencies
    const nm = copies.find((c) => /node_modules/.test(c))!;
    const fromStage = /--from=(\S+)/.exec(nm)![1];
    const build = stages.find((s) => s.name === fromStage)!;
    expect(build.body.some((i) => i.op === 'RUN' && /npm (prune|ci|install)\b.*--omit=dev/.test(i.args))).toBe(true);
    expect(build.body.filter((i) => i.op === 'COPY').map((i) => i.args).join('\n')).not.toMatch(/\bbench\b/);
    expect(fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n')).toEqual(expect.arrayContaining(['bench', 'node_modules', 'dist']));
  });

  it('every package the compiled CLI and services load at run time is a production dependency', () => {
    // Walk the requires from each entry point (the CLI and the services it loads by path) through dist/.
    const dist = path.join(ROOT, 'dist');
    const entries = ['cli', ...Object.keys(SERVICES)].map((a) => path.join(dist, 'apps', a, 'src', 'main.js'));
    const resolveFile = (p: string) => [p, `${p}.js`, path.join(p, 'index.js')].find((f) => fs.existsSync(f) && fs.statSync(f).isFile());
    const seen = new Set<string>();
    const used = new Set<string>();
    const queue = [...entries];
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const m of fs.readFileSync(file, 'utf8').matchAll(/require\("([^"]+)"\)/g)) {
        const spec = m[1];
        if (spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]) || spec.endsWith('.json')) continue;
        const local = spec.startsWith('.') ? path.resolve(path.dirname(file), spec) : spec.startsWith('@tidemark/') ? path.join(dist, 'libs', spec.split('/')[1], 'src', ...spec.split('/').slice(2)) : undefined;
        if (local !== undefined) {
          const f = resolveFile(local);
          if (!f) throw new Error(`${file} requires ${spec}, which is not in dist/`);
          queue.push(f);
        } else used.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
      }
    }
    expect(seen.size).toBeGreaterThan(30);
    expect(used).toContain('@nestjs/core');
    for (const name of used) expect({ name, production: name in pkg.dependencies }).toEqual({ name, production: true });
  });
});

describe('docker-compose.yml', () => {
  it('runs NATS with JetStream and its monitoring port, Redis with an append-only file, both unpublished and on volumes', () => {
    const { nats, redis } = compose.services;
    expect(nats.command).toEqual(expect.arrayContaining(['-js', '-sd', '/data', '-m', '8222']));
    expect(nats.expose).toEqual(expect.arrayContaining(['4222', '8222']));
    expect(nats.healthcheck.test.join(' ')).toMatch(/:8222\/healthz/);
    expect(redis.command.join(' ')).toMatch(/--appendonly yes/);
    expect(redis.healthcheck.test).toEqual(['CMD', 'redis-cli', 'ping']);
    for (const s of [nats, redis]) {
      expect(s.ports).toBeUndefined();
      expect(s.volumes[0]).toMatch(/^[a-z-]+-data:\/data$/);
      expect(Object.keys(compose.volumes)).toContain(s.volumes[0].split(':')[0]);
    }
  });

  it.each(Object.entries(SERVICES))('%s: the image, a readiness healthcheck, healthy NATS and Redis first, only its HTTP port published', (name, port) => {
    const s = compose.services[name];
    expect(s.image).toBe('tidemark:latest');
    expect(s.command).toEqual(['service', name]);
    expect(s.environment).toMatchObject({ NATS_URL: 'nats://nats:4222', REDIS_URL: 'redis://redis:6379', HOST: '0.0.0.0' });
    expect(s.depends_on).toEqual({ nats: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
    expect(s.healthcheck.test.join(' ')).toContain(`http://127.0.0.1:${port}/health/ready`);
    expect(s.healthcheck).toMatchObject({ interval: expect.any(String), timeout: expect.any(String), retries: expect.any(Number) });
    expect(s.ports).toEqual([`127.0.0.1:${port}:${port}`]);
  });

  it('publishes nothing but the services\' HTTP ports', () => {
    const published = Object.values(compose.services).flatMap((s: any) => s.ports ?? []).map((p: string) => Number(p.split(':').at(-1)));
    expect(published.sort()).toEqual(Object.values(SERVICES).sort());
  });

  it('the healthcheck command works: it exits 0 on a ready service and 1 otherwise', async () => {
    const server = http.createServer((req, res) => res.writeHead(req.url === '/health/ready' ? 200 : 503).end()).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as { port: number }).port;
    const script = compose.services.ingestion.healthcheck.test[3].replace('8080', String(port));
    const run = (s: string) => new Promise<number | null>((resolve) => spawn(process.execPath, ['-e', s]).once('exit', resolve));
    expect(await run(script)).toBe(0);
    expect(await run(script.replace('/health/ready', '/nope'))).toBe(1);
    server.close();
    expect(spawnSync(process.execPath, ['-e', script]).status).toBe(1); // nothing listening
  });
});
