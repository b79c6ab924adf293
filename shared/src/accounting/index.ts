export * from './lease.js';
export * from './limits.js';
export * from './logs.js';
export * from './periods.js';
export * from './settlement.js';
export * from './usage.js';
export * from './stats.js';
