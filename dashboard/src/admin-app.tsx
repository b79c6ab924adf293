/**
 * The admin page: a login form until there is an admin session, then the navigation and the page
 * the URL's hash names. A 401 from any call (the session expired or was ended elsewhere) brings
 * the login form back.
 */
import { api } from './api.js';
import { useSession } from './use-session.js';
import { LoginForm } from './components/login-form.js';
import { JobPage } from './pages/job-page.js';
import { KeyPage } from './pages/key-page.js';
import { KeysPage } from './pages/keys-page.js';
import { LogsPage } from './pages/logs-page.js';
import { OverviewPage } from './pages/overview-page.js';
import { QueuesPage } from './pages/queues-page.js';
import { WorkersPage } from './pages/workers-page.js';
import { href, useRoute } from './use-route.js';

const NAV = [
  ['overview', 'Overview'],
  ['keys', 'Keys'],
  ['logs', 'Logs'],
  ['queues', 'Queues & jobs'],
  ['workers', 'Workers'],
] as const;

export function AdminApp() {
  const [state, setState] = useSession('/admin/session');
  const route = useRoute();

  if (state === 'unknown') return null;
  if (state === 'out')
    return (
      <LoginForm
        endpoint="/admin/session"
        label="Admin key"
        title="cli-bridge admin"
        onDone={() => setState('in')}
      />
    );

  const logout = async () => {
    await api('DELETE', '/admin/session').catch(() => undefined);
    setState('out');
  };
  const section = route.path.split('/')[0];
  const [, arg] = route.path.split(/\/(.*)/s);
  return (
    <>
      <header class="top">
        <span class="brand">cli-bridge</span>
        <nav>
          {NAV.map(([path, label]) => (
            <a
              href={href(path)}
              aria-current={
                section === path || (path === 'queues' && section === 'jobs') ? 'page' : undefined
              }
            >
              {label}
            </a>
          ))}
        </nav>
        <button type="button" class="link" onClick={logout}>
          Log out
        </button>
      </header>
      <main>
        {section === 'keys' && arg ? (
          <KeyPage name={decodeURIComponent(arg)} />
        ) : section === 'keys' ? (
          <KeysPage />
        ) : section === 'logs' ? (
          <LogsPage route={route} />
        ) : section === 'queues' ? (
          <QueuesPage route={route} />
        ) : section === 'jobs' && arg ? (
          <JobPage id={decodeURIComponent(arg)} />
        ) : section === 'workers' ? (
          <WorkersPage />
        ) : (
          <OverviewPage />
        )}
      </main>
    </>
  );
}
