export * from './params';
export * from './decay';
export * from './interactions';
export * from './ops';
export * from './planner';
export * from './pending';
export * from './store';
export * from './recommender';
