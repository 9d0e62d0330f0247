export * from './dedup';
export * from './redis';
export * from './redis-dedup.store';
