export * from './dedup';
export * from './redis';
export * from './redis-dedup.store';
export * from './fenced-batch';
export * from './redis-fenced.writer';
export * from './redis.module';
export * from './key-part';
