/** Time left until `until`, ticking each second. */
import { useEffect, useState } from 'preact/hooks';
import { fmtCountdown } from '../format.js';

export function Countdown({ until }: { until: string }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return <time dateTime={until}>{fmtCountdown(until, now)}</time>;
}
