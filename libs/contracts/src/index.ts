export * from './events';
export * from './partition';
export * from './subjects';
export * from './validate';
export * from './event-schema';
