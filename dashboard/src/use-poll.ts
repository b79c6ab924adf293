/**
 * Data that refreshes itself: loads now, then every `intervalMs` while the tab is visible, and
 * again whenever `deps` change. A refresh replaces the data in place (the last good data stays
 * on screen while the next request is in flight, or if it fails), so the user's place (filters,
 * page, an open dialog) is never lost to a reload.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export const REFRESH_MS = 10_000;

export interface Poll<T> {
  data: T | undefined;
  error: Error | undefined;
  /** Loads again now (after an action). */
  reload: () => Promise<void>;
}

export function usePoll<T>(load: () => Promise<T>, deps: unknown[], intervalMs = REFRESH_MS): Poll<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<Error>();
  const loadRef = useRef(load);
  loadRef.current = load;
  // Answers to an older request (before deps changed) are dropped.
  const generation = useRef(0);

  const reload = useCallback(async () => {
    const mine = generation.current;
    try {
      const next = await loadRef.current();
      if (mine !== generation.current) return;
      setData(next);
      setError(undefined);
    } catch (err) {
      if (mine === generation.current) setError(err as Error);
    }
  }, []);

  useEffect(() => {
    generation.current++;
    void reload();
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void reload();
    }, intervalMs);
    const onVisible = () => {
      if (document.visibilityState === 'visible') void reload();
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      clearInterval(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, deps);

  return { data, error, reload };
}
