export * from './dedup';
export * from './redis';
export * from './redis-client';
export * from './slots';
export * from './redis-dedup.store';
export * from './lua';
export * from './redis.module';
export * from './key-part';
