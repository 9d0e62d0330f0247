export * from './start-service';
export * from './auth';
export * from './sse';
export * from './checkpointed';
