export * from './start-service';
export * from './sse';
