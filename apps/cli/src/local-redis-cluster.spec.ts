import { clusterInfoHealthy } from './local-redis-cluster';

const info = (state: string, slotsOk: number, known: number) => `cluster_enabled:1\r\ncluster_state:${state}\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:${slotsOk}\r\ncluster_known_nodes:${known}\r\n`;

describe('clusterInfoHealthy', () => {
  it('needs state ok and every slot ok (and, when asked, every node known)', () => {
    expect(clusterInfoHealthy(info('ok', 16384, 6))).toBe(true);
    expect(clusterInfoHealthy(info('ok', 16384, 6), 6)).toBe(true);
    expect(clusterInfoHealthy(info('ok', 16384, 5), 6)).toBe(false);
    expect(clusterInfoHealthy(info('fail', 16384, 6))).toBe(false);
    expect(clusterInfoHealthy(info('ok', 10923, 6))).toBe(false);
    expect(clusterInfoHealthy('')).toBe(false);
  });
});
