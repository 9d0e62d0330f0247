export * from './random';
export * from './shop-simulator';
