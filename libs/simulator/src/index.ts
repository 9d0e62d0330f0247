export * from './random';
export * from './shop-simulator';
export * from './rees46';
export * from './replay-pacing';
export * from './samples';
export * from './online-retail';
export * from './fuzz';
export * from './reference';
