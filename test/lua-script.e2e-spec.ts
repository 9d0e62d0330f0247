/**
 * LuaScript and RespArgs (libs/state lua-script.ts) against a real redis-server: what a script receives is
 * what was written, on a client and in a pipeline, replies as strings or Buffers, and a server that lost its
 * scripts (SCRIPT FLUSH, as after a restart) still runs the call. On a Redis Cluster the stores that use it
 * are tested in redis-cluster-stores.e2e.
 */
import type Redis from 'ioredis';
import { LuaScript, RespArgs, connectRedis, execPipeline } from '@tidemark/state';
import { ServerHandle, startRedis } from './support/servers';

// Against a real redis-server: seconds on a slow or busy machine, where Jest's default 5 s is too tight (it cut a recs-store test in CI).
jest.setTimeout(60_000);

let redis: ServerHandle;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  client = await connectRedis(redis.url, 'test');
});

afterAll(async () => {
  await client?.quit();
  await redis?.dispose();
});

/** Echoes its keys and arguments, and writes the first argument under the first key. */
const ECHO_SCRIPT = `
if #KEYS > 0 then redis.call('SET', KEYS[1], ARGV[1]) end
local out = {}
for i, k in ipairs(KEYS) do out[#out + 1] = k end
for i, a in ipairs(ARGV) do out[#out + 1] = a end
return out`;
const ECHO = new LuaScript<string[]>(ECHO_SCRIPT);
const ECHO_BYTES = new LuaScript<Buffer[]>(ECHO_SCRIPT, { reply: 'buffer' });

describe('LuaScript', () => {
  const binary = Buffer.from([0, 1, 2, 13, 10, 36, 42, 255, 128]);

  it('passes keys and arguments through exactly: strings, numbers, bytes, unicode', async () => {
    const args = new RespArgs(16).str('a').num(-12.5).bulk(binary).str('会话 😀').str('').bulk(Buffer.alloc(0)).str('x'.repeat(70_000));
    const got = await ECHO_BYTES.call(client, ['ls:{1}:a', 'ls:{1}:b'], args);
    expect(got.map((b) => b.toString('hex'))).toEqual(
      ['ls:{1}:a', 'ls:{1}:b', 'a', '-12.5', binary, '会话 😀', '', Buffer.alloc(0), 'x'.repeat(70_000)].map((v) => Buffer.from(v as string).toString('hex')),
    );
    expect((await client.getBuffer('ls:{1}:a'))!.equals(Buffer.from('a'))).toBe(true);
    expect(await ECHO.call(client, [], ['s', 7, Buffer.from('é')])).toEqual(['s', '7', 'é']);
  });

  it('queued in a pipeline, its reply comes with the pipeline’s, between the others', async () => {
    const p = client.pipeline();
    p.set('ls:p', 'before');
    void ECHO_BYTES.call(p, ['ls:q'], new RespArgs().str('one').bulk(binary));
    p.get('ls:q');
    const [set, echoed, after] = await execPipeline(p);
    expect(set).toBe('OK');
    expect((echoed as Buffer[]).map((b) => b.toString('hex'))).toEqual([Buffer.from('ls:q').toString('hex'), Buffer.from('one').toString('hex'), binary.toString('hex')]);
    expect(after).toBe('one');
  });

  it('a server that lost its scripts (SCRIPT FLUSH) still runs the call, on a client and in a pipeline', async () => {
    expect(await ECHO.call(client, [], ['warm'])).toEqual(['warm']); // the connection now sends EVALSHA
    await client.script('FLUSH');
    expect(await ECHO.call(client, [], ['again'])).toEqual(['again']);
    await client.script('FLUSH');
    const p = client.pipeline();
    void ECHO.call(p, ['ls:f'], ['piped']);
    expect(await execPipeline(p)).toEqual([['ls:f', 'piped']]);
    expect(await client.get('ls:f')).toBe('piped');
  });

  it('a script error reaches the caller; a lone surrogate is refused before anything is sent', async () => {
    const failing = new LuaScript(`return redis.error_reply('refused: no')`);
    await expect(failing.call(client, [], ['x'])).rejects.toThrow(/refused: no/);
    const sent = await client.info('commandstats');
    expect(() => ECHO.call(client, ['ls:bad'], ['ok', 'a\ud800'])).toThrow(/refused: .*lone surrogate/);
    expect(await client.exists('ls:bad')).toBe(0);
    const calls = (s: string) => Number(/cmdstat_eval(?:sha)?:calls=(\d+)/.exec(s)?.[1] ?? 0);
    expect(calls(await client.info('commandstats'))).toBe(calls(sent));
  });
});
