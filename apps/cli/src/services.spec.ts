import { spawnSync } from 'node:child_process';
import { SERVICE_COMMAND_FLAGS, SERVICE_NODE_FLAGS, SERVICE_NODE_OPTIONS, serviceArgv } from './services';

/** Runs this Node with `args` and `NODE_OPTIONS`; what it printed and its exit status. */
function node(args: string[], nodeOptions = ''): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [...args, '-e', "process.stdout.write('ok')"], {
    env: { ...process.env, NODE_OPTIONS: nodeOptions },
    encoding: 'utf8',
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('service node flags', () => {
  it('serviceArgv passes every flag to node before the script', () => {
    expect(serviceArgv('/x/bin/tidemark.js', 'dedup', ['--cpu-prof'])).toEqual([...SERVICE_NODE_FLAGS, '--cpu-prof', '/x/bin/tidemark.js', 'service', 'dedup']);
    expect(SERVICE_NODE_FLAGS).toEqual([...SERVICE_NODE_OPTIONS, ...SERVICE_COMMAND_FLAGS]);
  });

  it.each(SERVICE_NODE_OPTIONS)('%s is taken from NODE_OPTIONS (where the manifests set it)', (flag) => {
    expect(node([], flag)).toEqual({ status: 0, out: 'ok' });
  });

  it.each(SERVICE_COMMAND_FLAGS)('%s is refused in NODE_OPTIONS, so the image and the manifests put it on the command line', (flag) => {
    const inOptions = node([], flag);
    expect(inOptions.status).not.toBe(0);
    expect(inOptions.out).toMatch(/not allowed in NODE_OPTIONS/);
    expect(node([flag])).toEqual({ status: 0, out: 'ok' });
  });
});
