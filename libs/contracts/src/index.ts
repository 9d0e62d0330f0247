export * from './events';
export * from './partition';
export * from './subjects';
export * from './validate';
export * from './event-schema';
export * from './ndjson';
export * from './api';
export * from './ingest-plan';
