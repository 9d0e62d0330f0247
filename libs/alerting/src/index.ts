export * from './rule';
export * from './alert';
export * from './engine';
export * from './silence';
export * from './delivery';
export * from './default-rules';
export * from './receivers';
export * from './address';
