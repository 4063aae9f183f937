import { Text } from 'ink';
import { createContext, useContext, type ReactElement, type ReactNode } from 'react';

/** What a piece of text means; the colour follows from it, and disappears with --no-color / NO_COLOR. */
export type Tone = 'plain' | 'ok' | 'fail' | 'warn' | 'info' | 'muted';

const colourOf: Record<Exclude<Tone, 'plain' | 'muted'>, string> = { ok: 'green', fail: 'red', warn: 'yellow', info: 'cyan' };

/** Whether colours are wanted: decided once by the CLI (flags, NO_COLOR, FORCE_COLOR), not by Ink's own guess. */
export const ColorContext = createContext(true);

export function Paint({
  tone = 'plain',
  bold,
  inverse,
  children,
}: {
  tone?: Tone;
  bold?: boolean;
  inverse?: boolean;
  children: ReactNode;
}): ReactElement {
  const color = useContext(ColorContext);
  const style = { ...(bold ? { bold } : {}), ...(inverse ? { inverse } : {}) };
  if (!color || tone === 'plain') return <Text {...style}>{children}</Text>;
  if (tone === 'muted')
    return (
      <Text {...style} dimColor>
        {children}
      </Text>
    );
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

/**
 * Splits text into rows of at most `width` columns at spaces, continuing rows with `indent`.
 * For the lines that must be read whole (a failure's message, its hint, the result line);
 * everything else is cut at the edge instead.
 */
export function wrapRows(text: string, width: number, indent = ''): string[] {
  const room = Math.max(10, width);
  const rows: string[] = [];
  for (const paragraph of text.split('\n')) {
    const lead = /^ */.exec(paragraph)?.[0] ?? '';
    let row = lead;
    let fresh = true;
    for (const word of paragraph.slice(lead.length).split(' ')) {
      const candidate = fresh ? `${row}${word}` : `${row} ${word}`;
      if (candidate.length <= room || fresh) {
        row = candidate;
      } else {
        rows.push(row);
        row = `${indent}${word}`;
      }
      fresh = false;
      // A single word wider than the screen (a path, a URL) is cut into pieces.
      while (row.length > room) {
        rows.push(row.slice(0, room));
        row = `${indent}${row.slice(room)}`;
      }
    }
    rows.push(row);
  }
  return rows;
}
