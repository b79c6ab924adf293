/** A new key, shown this once, with a copy button. */
import { useRef, useState } from 'preact/hooks';

export function CreatedKey({ name, raw, onDone }: { name: string; raw: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(raw);
      setCopied(true);
    } catch {
      // No clipboard permission: select the text so the user can copy it by hand.
      input.current?.select();
    }
  };
  return (
    <div>
      <p>
        The key for <strong>{name}</strong>. It is shown only now: copy it and give it to its client.
      </p>
      <div class="copy-row">
        <input ref={input} id="raw-key" class="raw-key" readOnly value={raw} aria-label="New key" />
        <button type="button" onClick={copy}>
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
      <button type="button" onClick={onDone}>
        Done
      </button>
    </div>
  );
}
