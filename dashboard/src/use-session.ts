/**
 * Whether this browser holds a session cookie for `endpoint` (`/admin/session` or `/me/session`):
 * asked once at start, and 'out' again whenever a request is refused with 401.
 */
import { useEffect, useState } from 'preact/hooks';
import { get, onUnauthorized } from './api.js';

export type SessionState = 'unknown' | 'in' | 'out';

export function useSession(endpoint: string): [SessionState, (s: SessionState) => void] {
  const [state, setState] = useState<SessionState>('unknown');
  useEffect(() => {
    get<{ logged_in: boolean }>(endpoint).then(
      (s) => setState(s.logged_in ? 'in' : 'out'),
      () => setState('out'),
    );
    return onUnauthorized(() => setState('out'));
  }, [endpoint]);
  return [state, setState];
}
