export * from './start-service';
export * from './auth';
