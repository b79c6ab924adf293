/**
 * The HTTP app. `createApp` wires routes to services and never listens: `main.ts` (or a test)
 * decides where it runs.
 */
import cors from 'cors';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { accessLog } from './middleware/access-log.js';
import { presentedKey, requireAdmin } from './middleware/auth.js';
import { sessionCookie } from './middleware/session.js';
import { errorHandler, notFoundHandler } from './middleware/error-handler.js';
import { limiter } from './middleware/rate-limit.js';
import { requestMetrics } from './middleware/request-metrics.js';
import { startTrace } from './middleware/trace.js';
import { adminJobRoutes } from './routes/admin-jobs.routes.js';
import { adminKeyRoutes } from './routes/admin-keys.routes.js';
import { adminQueueRoutes } from './routes/admin-queues.routes.js';
import { adminStatsRoutes } from './routes/admin-stats.routes.js';
import { anthropicRoutes } from './routes/anthropic.routes.js';
import { generateRoutes } from './routes/generate.routes.js';
import { modelsRoutes } from './routes/models.routes.js';
import { openaiRoutes } from './routes/openai.routes.js';
import { responsesRoutes } from './routes/responses.routes.js';
import { dashboardRoutes } from './routes/dashboard.routes.js';
import { healthRoutes } from './routes/health.routes.js';
import { meRoutes } from './routes/me.routes.js';
import { sessionRoutes } from './routes/session.routes.js';
import { jobsRoutes } from './routes/jobs.routes.js';
import { metricsRoutes } from './routes/metrics.routes.js';
import { usageRoutes } from './routes/usage.routes.js';
import type { AppDeps } from './deps.js';

export function createApp(deps: AppDeps): Express {
  const { config, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.TRUST_PROXY);

  // Per-stage timings (off by default): before everything else, to see what the rest costs.
  if (config.TRACE_STAGES) app.use(startTrace(logger.child({ component: 'trace' })));

  app.use(accessLog(logger));
  app.use(requestMetrics(deps.services.metrics));
  app.use(
    helmet({
      contentSecurityPolicy: { directives: { 'frame-ancestors': ["'none'"] } },
      referrerPolicy: { policy: 'no-referrer' },
    }),
  );
  // Keys travel in headers, not cookies, so any origin may call when none is configured.
  app.use(cors({ origin: config.CORS_ORIGINS.length ? config.CORS_ORIGINS : '*', maxAge: 600 }));

  // Liveness and readiness stay outside every limit; so do the dashboard's static files.
  app.use(healthRoutes(deps));
  app.use(dashboardRoutes(deps.dashboardDir));

  const window = config.RATE_LIMIT_WINDOW_MS;
  const { keys } = deps.services.auth;
  app.use(
    '/admin',
    limiter({
      redis: deps.redis,
      prefix: keys.rateLimit('admin'),
      windowMs: window,
      limit: config.ADMIN_RATE_LIMIT_MAX,
      message: 'Too many admin requests; try again later',
    }),
  );
  // Requests with no credentials at all, per address. A request that presents a key (or a
  // dashboard session cookie) is governed by that key's own limits, or, if the key or session is
  // wrong, by the failed-authentication limit.
  app.use(
    limiter({
      redis: deps.redis,
      prefix: keys.rateLimit('anonymous'),
      windowMs: window,
      limit: config.RATE_LIMIT_MAX_REQUESTS,
      message: 'Too many requests without an API key from this address; try again later',
      skip: (req) =>
        presentedKey(req) !== undefined ||
        sessionCookie(req, 'admin') !== undefined ||
        sessionCookie(req, 'me') !== undefined,
    }),
  );

  app.use(generateRoutes(deps));
  app.use(usageRoutes(deps));
  app.use(metricsRoutes(deps));
  // Dashboard logins (before the admin check: they are how a browser gets past it) and /me.
  app.use(sessionRoutes(deps));
  app.use(meRoutes(deps));
  app.use(jobsRoutes(deps));
  // The OpenAI- and Anthropic-compatible front doors (errors in their dialects: compat/errors.ts).
  app.use(openaiRoutes(deps));
  app.use(responsesRoutes(deps));
  app.use(anthropicRoutes(deps));
  app.use(modelsRoutes(deps));
  app.use(
    '/admin',
    requireAdmin({ ...deps.services.auth, adminKey: config.BRIDGE_ADMIN_KEY }),
    adminKeyRoutes(deps),
    adminQueueRoutes(deps),
    adminJobRoutes(deps),
    adminStatsRoutes(deps),
  );

  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return app;
}
