import { clusterInfoHealthy, clusterPortRange } from './local-redis-cluster';

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

describe('clusterPortRange', () => {
  it('keeps node and bus ports below the ephemeral range and apart from restartable servers when there is room, else the old range', () => {
    // Linux's default ephemeral range starts at 32768: nodes on 10000–16767, buses on 20000–26767
    expect(clusterPortRange(32_768)).toEqual({ from: 10_000, to: 16_768 });
    expect(clusterPortRange(49_152)).toEqual({ from: 10_000, to: 20_000 });
    // too little room, or unknown
    expect(clusterPortRange(21_000)).toEqual({ from: 20_000, to: 55_000 });
    expect(clusterPortRange(undefined)).toEqual({ from: 20_000, to: 55_000 });
    expect(clusterPortRange(NaN)).toEqual({ from: 20_000, to: 55_000 });
  });
});
