/** The limits of a key as form fields (0 = unlimited), read back into a PATCH/POST body. */
import type { Limits } from '../types.js';
import { PROVIDERS } from '../types.js';

export const LIMIT_FIELDS: [keyof Limits, string, 'int' | 'usd'][] = [
  ['maxRequestsPerDay', 'Requests per day', 'int'],
  ['maxRequestsPerMonth', 'Requests per month', 'int'],
  ['maxTokensPerMonth', 'Tokens per month', 'int'],
  ['maxCostPerDay', 'Spend per day (USD)', 'usd'],
  ['maxCostPerMonth', 'Spend per month (USD)', 'usd'],
  ['maxConcurrent', 'Concurrent requests', 'int'],
  ['maxRequestsPerMinute', 'Requests per minute', 'int'],
  ['maxQueued', 'Queued jobs (blank = server default)', 'int'],
];

/** Uncontrolled fields (default values only): a data refresh never overwrites what is typed. */
export function LimitsFields({ value }: { value?: Partial<Limits> }) {
  return (
    <fieldset class="limits">
      <legend>Limits (0 = unlimited)</legend>
      {LIMIT_FIELDS.map(([field, label, kind]) => (
        <label key={field}>
          {label}
          <input
            name={field}
            type="number"
            min={0}
            step={kind === 'usd' ? 'any' : 1}
            inputMode={kind === 'usd' ? 'decimal' : 'numeric'}
            defaultValue={value?.[field] == null ? (field === 'maxQueued' ? '' : 0) : String(value[field])}
          />
        </label>
      ))}
      <div class="providers">
        <span>Providers (none ticked = all)</span>
        {PROVIDERS.map((p) => (
          <label key={p} class="check">
            <input
              type="checkbox"
              name="allowedProviders"
              value={p}
              defaultChecked={value?.allowedProviders?.includes(p) ?? false}
            />
            {p}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

/** The form's limits as the admin API takes them. */
export function readLimits(form: HTMLFormElement): Record<string, unknown> {
  const data = new FormData(form);
  const out: Record<string, unknown> = {};
  for (const [field] of LIMIT_FIELDS) {
    const raw = String(data.get(field) ?? '').trim();
    if (raw === '') continue;
    out[field] = Number(raw);
  }
  out.allowedProviders = data.getAll('allowedProviders').map(String);
  return out;
}
