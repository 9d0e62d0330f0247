export * from './start-service';
export * from './auth';
export * from './sse';
export * from './checkpointed';
export * from './problem';
export * from './problem.filter';
export * from './openapi';
export * from './api-docs.module';
