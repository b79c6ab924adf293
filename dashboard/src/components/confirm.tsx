/** A question and the one button that does it (inside a Dialog). */
import { ErrorNote } from './bits.js';

export function Confirm(props: {
  text: string;
  action: string;
  danger?: boolean;
  error?: Error;
  onConfirm: () => void;
}) {
  return (
    <div>
      <p>{props.text}</p>
      <ErrorNote error={props.error} />
      <button type="button" class={props.danger ? 'danger' : ''} onClick={props.onConfirm}>
        {props.action}
      </button>
    </div>
  );
}
