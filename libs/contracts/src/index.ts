export * from './events';
export * from './partition';
export * from './subjects';
