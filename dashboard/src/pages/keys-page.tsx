/**
 * Keys: every key with its usage against its limits; create (the raw key is shown once, with a
 * copy button), edit limits, reset usage, revoke (each confirmed in a dialog).
 */
import { useState } from 'preact/hooks';
import { api, get } from '../api.js';
import { Empty, ErrorNote, Loading } from '../components/bits.js';
import { Confirm } from '../components/confirm.js';
import { CreatedKey } from '../components/created-key.js';
import { KeyBars } from '../components/key-bars.js';
import { Dialog } from '../components/dialog.js';
import { LimitsFields, readLimits } from '../components/limits-form.js';
import { fmtTime } from '../format.js';
import type { KeyView } from '../types.js';
import { usePoll } from '../use-poll.js';
import { href } from '../use-route.js';

type Open =
  | { kind: 'create' }
  | { kind: 'created'; name: string; key: string }
  | { kind: 'edit'; key: KeyView }
  | { kind: 'reset'; name: string }
  | { kind: 'revoke'; name: string }
  | null;

export function KeysPage() {
  const keys = usePoll(() => get<{ keys: KeyView[] }>('/admin/keys'), []);
  const [open, setOpen] = useState<Open>(null);
  const [error, setError] = useState<Error>();
  const close = () => {
    setOpen(null);
    setError(undefined);
  };
  /** Runs an action; on success reloads the list and moves to `then` (closing by default). */
  const act = async (fn: () => Promise<Open | void>) => {
    setError(undefined);
    try {
      const next = await fn();
      setOpen(next ?? null);
      await keys.reload();
    } catch (err) {
      setError(err as Error);
    }
  };

  return (
    <>
      <div class="title-row">
        <h1>Keys</h1>
        <button type="button" onClick={() => setOpen({ kind: 'create' })}>
          New key
        </button>
      </div>
      <ErrorNote error={keys.error} />
      {!keys.data ? (
        keys.error ? null : (
          <Loading />
        )
      ) : keys.data.keys.length === 0 ? (
        <Empty>No keys yet: create one to let a client in.</Empty>
      ) : (
        <div class="table-wrap">
          <table class="keys">
            <thead>
              <tr>
                <th>Name</th>
                <th>Usage against limits</th>
                <th>Created</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {keys.data.keys.map((k) => (
                <tr key={k.id} data-key={k.name}>
                  <td>
                    <a href={href(`keys/${encodeURIComponent(k.name)}`)}>{k.name}</a>
                    {k.allowedProviders.length ? <small> ({k.allowedProviders.join(', ')})</small> : null}
                  </td>
                  <td class="bars">
                    <KeyBars k={k} />
                  </td>
                  <td>{fmtTime(k.created_at)}</td>
                  <td>
                    <div class="actions">
                      <button type="button" onClick={() => setOpen({ kind: 'edit', key: k })}>
                        Edit
                      </button>
                      <button type="button" onClick={() => setOpen({ kind: 'reset', name: k.name })}>
                        Reset
                      </button>
                      <button
                        type="button"
                        class="danger"
                        onClick={() => setOpen({ kind: 'revoke', name: k.name })}
                      >
                        Revoke
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <Dialog open={open?.kind === 'create'} title="New key" onClose={close}>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            const form = e.currentTarget;
            const name = String(new FormData(form).get('name') ?? '').trim();
            void act(async () => {
              const made = await api<{ key: string; name: string }>('POST', '/admin/keys', {
                name,
                ...readLimits(form),
              });
              return { kind: 'created', name: made.name, key: made.key };
            });
          }}
        >
          <label>
            Name
            <input name="name" required pattern="[A-Za-z0-9_\-]{1,50}" title="1-50 of A-Z a-z 0-9 _ -" />
          </label>
          <LimitsFields />
          <ErrorNote error={error} />
          <button type="submit">Create</button>
        </form>
      </Dialog>

      <Dialog open={open?.kind === 'created'} title="Key created" onClose={close}>
        {open?.kind === 'created' ? <CreatedKey name={open.name} raw={open.key} onDone={close} /> : null}
      </Dialog>

      <Dialog
        open={open?.kind === 'edit'}
        title={`Edit limits: ${open?.kind === 'edit' ? open.key.name : ''}`}
        onClose={close}
      >
        {open?.kind === 'edit' ? (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              const form = e.currentTarget;
              void act(() =>
                api('PATCH', `/admin/keys/${encodeURIComponent(open.key.name)}`, readLimits(form)).then(
                  () => null,
                ),
              );
            }}
          >
            <LimitsFields value={open.key} />
            <ErrorNote error={error} />
            <button type="submit">Save</button>
          </form>
        ) : null}
      </Dialog>

      <Dialog open={open?.kind === 'reset'} title="Reset usage" onClose={close}>
        {open?.kind === 'reset' ? (
          <Confirm
            text={`Zero the usage counters of "${open.name}"?`}
            action="Reset usage"
            error={error}
            onConfirm={() =>
              act(() =>
                api('POST', `/admin/keys/${encodeURIComponent(open.name)}/reset-usage`).then(() => null),
              )
            }
          />
        ) : null}
      </Dialog>

      <Dialog open={open?.kind === 'revoke'} title="Revoke key" onClose={close}>
        {open?.kind === 'revoke' ? (
          <Confirm
            text={`Revoke "${open.name}"? Its clients are refused from now on and its queued or running jobs are cancelled. This cannot be undone.`}
            action="Revoke"
            danger
            error={error}
            onConfirm={() =>
              act(() => api('DELETE', `/admin/keys/${encodeURIComponent(open.name)}`).then(() => null))
            }
          />
        ) : null}
      </Dialog>
    </>
  );
}
