/** Request-log entries as a table (newest first). */
import { fmtInt, fmtMs, fmtTime, fmtUsd } from '../format.js';
import type { LogEntry } from '../types.js';
import { Badge, Empty } from './bits.js';

export function LogsTable({ logs, showKey = true }: { logs: LogEntry[]; showKey?: boolean }) {
  if (logs.length === 0) return <Empty>No requests yet.</Empty>;
  return (
    <div class="table-wrap">
      <table class="logs">
        <thead>
          <tr>
            <th>Time</th>
            {showKey ? <th>Key</th> : null}
            <th>Provider</th>
            <th>Model</th>
            <th>Status</th>
            <th>Tokens</th>
            <th>Cost</th>
            <th>Wait</th>
            <th>Run</th>
          </tr>
        </thead>
        <tbody>
          {logs.map((l) => (
            <tr key={`${l.job_id}-${l.time}`}>
              <td>{fmtTime(l.time)}</td>
              {showKey ? <td>{l.key}</td> : null}
              <td>{l.provider}</td>
              <td>{l.model}</td>
              <td>
                <Badge kind={l.status === 'completed' ? 'ok' : l.status === 'cancelled' ? 'warn' : 'bad'}>
                  {l.status}
                </Badge>
                {l.error ? (
                  <small class="err-text">
                    {' '}
                    {l.error_type ?? ''}: {l.error}
                  </small>
                ) : null}
              </td>
              <td>{fmtInt((l.usage.input_tokens ?? 0) + (l.usage.output_tokens ?? 0))}</td>
              <td>{fmtUsd(l.cost_usd)}</td>
              <td>{fmtMs(l.queue_wait_ms)}</td>
              <td>{fmtMs(l.duration_ms)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
