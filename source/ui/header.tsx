import type { ReactElement } from 'react';
import type { HostOverview } from './engine-port.js';
import { formatAge } from '../run/format.js';
import { Line, Paint } from './paint.js';

/**
 * Two rows: who and where, then what serves and who holds the lock. The first row starts with
 * "mcp-deploy · " on every screen: terminal tests wait for it before they send keys.
 */
export function headerLines(props: { app: string; target: string; overview: HostOverview | null; screen: string }): ReactElement[] {
  const { overview } = props;
  const first = (
    <Line key="header">
      <Paint bold>{`mcp-deploy · ${props.app} → ${props.target}`}</Paint>
      <Paint tone="muted">{`${overview ? ` · ${overview.host}` : ''} · ${props.screen}`}</Paint>
    </Line>
  );
  if (overview === null) {
    return [
      first,
      <Line key="header.state">
        <Paint tone="muted">{`reading ${props.target}…`}</Paint>
      </Line>,
    ];
  }
  const active = overview.state?.active ?? null;
  const { lock } = overview;
  return [
    first,
    <Line key="header.state">
      {active ? (
        <>
          {'active '}
          <Paint tone="ok">{active.colour}</Paint>
          {`:${active.port} ${active.release}`}
        </>
      ) : (
        <Paint tone="muted">nothing deployed yet</Paint>
      )}
      <Paint tone="muted"> · </Paint>
      {lock.held ? (
        <Paint tone={lock.stale ? 'warn' : 'fail'}>
          {`locked by ${lock.info ? `${lock.info.operator}@${lock.info.localHost}` : 'unknown'}${lock.ageSeconds === null ? '' : ` ${formatAge(lock.ageSeconds)}`}${lock.stale ? ' (stale)' : ''}`}
        </Paint>
      ) : (
        <Paint tone="muted">lock free</Paint>
      )}
    </Line>,
  ];
}
