/**
 * The HTTP app. `createApp` wires routes to services and never listens: `main.ts` (or a test)
 * decides where it runs.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import cors from 'cors';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { presentedKey, requireAdmin } from './middleware/auth.js';
import { errorHandler, notFoundHandler } from './middleware/error-handler.js';
import { limiter } from './middleware/rate-limit.js';
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
import { healthRoutes } from './routes/health.routes.js';
import { jobsRoutes } from './routes/jobs.routes.js';
import { usageRoutes } from './routes/usage.routes.js';
import type { AppDeps } from './deps.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A caller's `x-request-id` when it is sane, else a fresh UUID. */
function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

export function createApp(deps: AppDeps): Express {
  const { config, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.TRUST_PROXY);

  // Per-stage timings (off by default): before everything else, to see what the rest costs.
  if (config.TRACE_STAGES) app.use(startTrace(logger.child({ component: 'trace' })));

  app.use(
    pinoHttp({
      logger: logger.child({ component: 'http' }),
      genReqId: (req, res) => {
        const id = requestId(req);
        res.setHeader('X-Request-Id', id);
        return id;
      },
      // Bodies and headers are never logged: they hold prompts and keys.
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({
          id: req.id,
          method: req.method,
          url: req.url,
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      // Refusals (4xx) and expected outages (503, 504) are not errors of the bridge itself.
      customLogLevel: (_req, res) =>
        res.statusCode >= 500 && res.statusCode !== 503 && res.statusCode !== 504 ? 'error' : 'info',
      autoLogging: { ignore: (req) => req.url === '/health' },
    }),
  );
  app.use(
    helmet({
      contentSecurityPolicy: { directives: { 'frame-ancestors': ["'none'"] } },
      referrerPolicy: { policy: 'no-referrer' },
    }),
  );
  // Keys travel in headers, not cookies, so any origin may call when none is configured.
  app.use(cors({ origin: config.CORS_ORIGINS.length ? config.CORS_ORIGINS : '*', maxAge: 600 }));

  // Liveness and readiness stay outside every limit.
  app.use(healthRoutes(deps));

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
  // Requests with no credentials at all, per address. A request that presents a key is governed
  // by that key's own limits, or, if the key is wrong, by the failed-authentication limit.
  app.use(
    limiter({
      redis: deps.redis,
      prefix: keys.rateLimit('anonymous'),
      windowMs: window,
      limit: config.RATE_LIMIT_MAX_REQUESTS,
      message: 'Too many requests without an API key from this address; try again later',
      skip: (req) => presentedKey(req) !== undefined,
    }),
  );

  app.use(generateRoutes(deps));
  app.use(usageRoutes(deps));
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
