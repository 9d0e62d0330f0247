/**
 * The environment every service gets on a local cluster (`tidemark chaos`, `tidemark bench scale`): the NATS
 * cluster's servers with R3 streams, the Redis Cluster's nodes, partitions taken by group leases, loopback
 * only, warn-level JSON logs.
 */
export function clusterServiceEnv(natsUrls: string, redisSeeds: string, partitions: number, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...base,
    NATS_URL: natsUrls,
    JETSTREAM_REPLICAS: '3',
    REDIS_MODE: 'cluster',
    REDIS_URL: redisSeeds,
    PARTITIONS: String(partitions),
    PARTITION_ASSIGNMENT: 'group',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
  };
}
