/**
 * A modal dialog on the native <dialog> element (focus trap, Escape and the backdrop for free).
 * It stays open across data refreshes: only its `open` prop closes it.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

export function Dialog(props: {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  // The native close event fires for our own close() too: report only a close by the user
  // (Escape) while the dialog is meant to be open.
  const meantOpen = useRef(props.open);
  meantOpen.current = props.open;
  useEffect(() => {
    const d = ref.current!;
    if (props.open && !d.open) d.showModal();
    if (!props.open && d.open) d.close();
  }, [props.open]);
  return (
    <dialog ref={ref} onClose={() => meantOpen.current && props.onClose()} aria-label={props.title}>
      <header>
        <h2>{props.title}</h2>
        <button type="button" class="icon" aria-label="Close" onClick={props.onClose}>
          ×
        </button>
      </header>
      {props.open ? props.children : null}
    </dialog>
  );
}
