/**
 * The API's route table, read from the Express app itself (its router stack), so that tests
 * iterating over routes cover a route added later without anyone listing it.
 */
import { createApp, type ApiServer } from '@cli-bridge/api';
import { createLogger, type Config } from '@cli-bridge/shared';

export interface RouteEntry {
  /** Upper case: GET, POST, DELETE, ... */
  method: string;
  /** Express path with its parameters, e.g. /jobs/:id. */
  path: string;
}

/** What the router stack holds (Express 5 / router 2: layers with a route or a nested router). */
interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  rawPath?: string | string[];
  slash?: boolean;
}

/** Every route of the app, mounted routers included, in registration order. */
export function routeTable(app: ReturnType<typeof createApp>): RouteEntry[] {
  const out: RouteEntry[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const path of paths)
          for (const [method, on] of Object.entries(layer.route.methods))
            if (on && method !== '_all') out.push({ method: method.toUpperCase(), path: prefix + path });
      } else if (layer.handle?.stack) {
        // A mounted router (app.use('/admin', router) or app.use(router)).
        if (Array.isArray(layer.rawPath)) throw new Error('routeTable: a router mounted on several paths');
        const mount = layer.slash || !layer.rawPath ? '' : String(layer.rawPath).replace(/\/$/, '');
        walk(layer.handle.stack, prefix + mount);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return out;
}

/**
 * The route table of the app an in-process API server runs: the same `createApp`, given that
 * server's own services (building the app never listens and never touches Redis).
 */
export function routeTableOf(server: ApiServer, config: Config): RouteEntry[] {
  const app = createApp({
    config,
    logger: createLogger({ level: 'silent', name: 'route-table' }),
    services: server.services,
    redis: server.services.auth.redis,
  });
  return routeTable(app);
}

/**
 * Routes a user key reaches: everything but liveness, readiness, the admin API, /metrics, the
 * dashboard's static page and the key holder's login/logout (which takes the key in its body).
 */
export const isUserRoute = (r: RouteEntry) =>
  r.path !== '/health' &&
  r.path !== '/ready' &&
  !isAdminRoute(r) &&
  r.path !== '/admin/session' &&
  !r.path.startsWith('/dashboard') &&
  r.path !== '/me/session';

/**
 * Routes behind the admin check: the admin API and /metrics (the admin key, or METRICS_TOKEN when
 * it is set). The dashboard's login/logout, /admin/session, is how one gets past it.
 */
export const isAdminRoute = (r: RouteEntry) =>
  ((r.path === '/admin' || r.path.startsWith('/admin/')) && r.path !== '/admin/session') ||
  r.path === '/metrics';

/** The path with each `:param` replaced by the value given for it. */
export function fillPath(path: string, params: Record<string, string>): string {
  return path.replace(/:(\w+)/g, (_m, name: string) => {
    const v = params[name];
    if (v === undefined) throw new Error(`fillPath: no value for :${name} in ${path}`);
    return encodeURIComponent(v);
  });
}
