export * from './aggregation';
export * from './count';
export * from './sum';
export * from './min-max';
export * from './distinct';
export * from './top-k';
export * from './ratio';
export * from './funnel';
