import Spinner from 'ink-spinner';
import type { ReactElement } from 'react';
import { Paint } from './paint.js';

/**
 * The spinner beside whatever is in progress: ink-spinner's dots. It animates itself, so only
 * this component redraws for it; the app's one ticker (use-ticker.ts) is left to elapsed times.
 */
export function Busy(): ReactElement {
  return (
    <Paint tone="info">
      <Spinner type="dots" />
    </Paint>
  );
}
