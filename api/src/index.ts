export * from './app.js';
export * from './deps.js';
export * from './server.js';
export * from './services/index.js';
export * from './services/model-policy.js';
export * from './compat/conversation.js';
export * from './compat/models.js';
export * from './services/admin-job-pages.js';
