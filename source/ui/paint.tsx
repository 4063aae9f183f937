import { Text } from 'ink';
import { createContext, useContext, type ReactElement, type ReactNode } from 'react';

/** What a piece of text means; the colour follows from it, and disappears with --no-color / NO_COLOR. */
export type Tone = 'plain' | 'ok' | 'fail' | 'warn' | 'info' | 'muted';

const colourOf: Record<Exclude<Tone, 'plain' | 'muted'>, string> = { ok: 'green', fail: 'red', warn: 'yellow', info: 'cyan' };

/** Whether colours are wanted: decided once by the CLI (flags, NO_COLOR, FORCE_COLOR), not by Ink's own guess. */
export const ColorContext = createContext(true);

export function Paint({ tone = 'plain', bold, inverse, children }: { tone?: Tone; bold?: boolean; inverse?: boolean; children: ReactNode }): ReactElement {
  const color = useContext(ColorContext);
  const style = { ...(bold ? { bold } : {}), ...(inverse ? { inverse } : {}) };
  if (!color || tone === 'plain') return <Text {...style}>{children}</Text>;
  if (tone === 'muted') return <Text {...style} dimColor>{children}</Text>;
  return (
    <Text {...style} color={colourOf[tone]}>
      {children}
    </Text>
  );
}

/**
 * One terminal row. Every line of the app is one of these and is cut at the terminal's width
 * rather than wrapped, so the height of the live area is exactly the number of lines drawn.
 */
export function Line({ children }: { children?: ReactNode }): ReactElement {
  return <Text wrap="truncate-end">{children ?? ' '}</Text>;
}
