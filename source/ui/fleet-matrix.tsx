import { Box, useApp, useInput, useWindowSize } from 'ink';
import { type ReactElement, useEffect, useRef, useState } from 'react';
import type { EngineEvent } from '../run/events.js';
import type { StepId } from '../run/step-ids.js';
import { Busy } from './busy.js';
import type { FleetAppEngine } from './engine-port.js';
import { type Cell, cellOf, emptyFleet, type FleetModel, hostNow, reduceFleet } from './fleet-model.js';
import { Line, Paint, type Tone } from './paint.js';
import { useTicker } from './use-ticker.js';

/** Log lines of the selected host under the matrix. */
const logPaneLines = 8;
const cellWidth = 5;
const nameWidth = 12;

/**
 * The fleet's terminal app: a host × step matrix (rows hosts, columns steps, a mark per cell; one
 * line per host when the terminal is too narrow for the columns), the selected host's log lines
 * under it (↑/↓ choose the host), and the fleet's outcome at the end. `y` starts the run, `q`
 * leaves before it or after it; Ctrl-C asks for a safe stop.
 */
export function FleetMatrixApp({ engine }: { readonly engine: FleetAppEngine }): ReactElement {
  const { exit } = useApp();
  const { columns: width } = useWindowSize();
  const [model, setModel] = useState<FleetModel>(() => ({ ...emptyFleet, hosts: engine.hosts, batches: engine.batches }));
  const [phase, setPhase] = useState<'confirm' | 'running' | 'done'>('confirm');
  const [selected, setSelected] = useState(0);
  const [exitCode, setExitCode] = useState(0);
  const pending = useRef<EngineEvent[]>([]);
  useTicker(phase === 'running', 120);

  // Events are folded in batches, about ten times a second: one state change per event would redraw per log line.
  useEffect(() => {
    const off = engine.events.on((event) => pending.current.push(event));
    const flush = setInterval(() => {
      if (pending.current.length === 0) return;
      const events = pending.current;
      pending.current = [];
      setModel((current) => events.reduce(reduceFleet, current));
    }, 100);
    return () => {
      off();
      clearInterval(flush);
    };
  }, [engine]);

  useInput((input, key) => {
    if (key.ctrl && input === 'c') {
      if (phase === 'running') engine.interrupt();
      else exit(phase === 'done' ? exitCode : 130);
      return;
    }
    if (key.upArrow || input === 'k') setSelected((index) => Math.max(0, index - 1));
    if (key.downArrow || input === 'j') setSelected((index) => Math.min(model.hosts.length - 1, index + 1));
    if (phase === 'confirm' && input === 'y') {
      setPhase('running');
      engine.run().then(
        (code) => {
          setExitCode(code);
          setPhase('done');
        },
        () => {
          setExitCode(70);
          setPhase('done');
        },
      );
    }
    if (phase !== 'running' && (input === 'q' || key.return)) exit(phase === 'done' ? exitCode : 0);
  });

  const host = model.hosts[selected] ?? null;
  const steps = model.steps;
  const wide = width >= nameWidth + 2 + steps.length * cellWidth && steps.length > 0;
  const verb = engine.operation === 'deploy' ? 'Deploy to' : 'Roll back';
  const lines: ReactElement[] = [
    <Line key="title">
      <Paint bold>{`mcp-deploy · ${engine.app} → ${engine.target} · ${engine.operation} · ${model.hosts.length} hosts`}</Paint>
    </Line>,
    <Line key="batches">
      <Paint tone="muted">{`batches: ${model.batches.map((batch, index) => `${index === model.batch ? '▶' : ''}${batch.join(' ')}`).join(' | ')}`}</Paint>
    </Line>,
  ];
  if (wide)
    lines.push(
      <Line key="head">
        <Paint tone="muted">{`${''.padEnd(nameWidth + 2)}${steps.map((step) => columnLabel(step).padEnd(cellWidth)).join('')}`}</Paint>
      </Line>,
    );
  model.hosts.forEach((name, index) => {
    const mark = index === selected ? '›' : ' ';
    if (wide) {
      lines.push(
        <Line key={`host-${name}`}>
          <Paint bold={index === selected}>{`${mark} ${name.slice(0, nameWidth).padEnd(nameWidth)}`}</Paint>
          {steps.map((step) => (
            <CellMark key={step} cell={cellOf(model, name, step)} />
          ))}
        </Line>,
      );
    } else {
      lines.push(
        <Line key={`host-${name}`}>
          <Paint bold={index === selected}>{`${mark} ${name.slice(0, nameWidth).padEnd(nameWidth)} `}</Paint>
          <Paint>{hostNow(model, name)}</Paint>
        </Line>,
      );
    }
  });
  lines.push(
    <Line key="log-title">
      <Paint tone="muted">{`── log: ${host ?? '-'} ${'─'.repeat(Math.max(0, Math.min(width, 80) - 12 - (host?.length ?? 1)))}`}</Paint>
    </Line>,
  );
  const log = host === null ? [] : (model.logs[host] ?? []).slice(-logPaneLines);
  for (let index = 0; index < logPaneLines; index += 1)
    lines.push(
      <Line key={`log-${index}`}>
        <Paint tone="muted">{log[index] ?? ''}</Paint>
      </Line>,
    );
  lines.push(<Line key="footer">{footer(phase, model, verb)}</Line>);
  return <Box flexDirection="column">{lines}</Box>;
}

function footer(phase: 'confirm' | 'running' | 'done', model: FleetModel, verb: string): ReactElement {
  if (phase === 'confirm')
    return <Paint tone="info">{`${verb} ${model.hosts.length} hosts in these batches? y to start, q to quit`}</Paint>;
  if (phase === 'running' || model.ended === null)
    return (
      <Paint>
        <Busy /> {`running${model.batch === null ? '' : ` batch ${model.batch}`} · ↑/↓ a host's log · Ctrl-C stops safely`}
      </Paint>
    );
  const { ended } = model;
  return ended.ok ? (
    <Paint tone="ok">{`Fleet: every host serves ${ended.release ?? '?'}. q to quit`}</Paint>
  ) : (
    <Paint tone="fail">{`Fleet: ${ended.outcome} (${ended.hosts.map((entry) => `${entry.host} ${entry.ok ? '✔' : '✖'}`).join(', ')}). q to quit`}</Paint>
  );
}

function CellMark({ cell }: { readonly cell: Cell }): ReactElement {
  const [text, tone] = markOf(cell);
  return <Paint tone={tone}>{text.padEnd(cellWidth)}</Paint>;
}

function markOf(cell: Cell): [string, Tone] {
  switch (cell.status) {
    case 'done':
      return ['✔', 'ok'];
    case 'failed':
      return ['✖', 'fail'];
    case 'running':
      return ['▶', 'info'];
    case 'skipped':
      return ['-', 'muted'];
    case 'rollback':
      return ['↺', 'warn'];
    default:
      return ['·', 'muted'];
  }
}

/** A column's heading: the step id's last part, cut to fit the cell. */
function columnLabel(step: StepId): string {
  const last = step.split('.').at(-1) ?? step;
  return last.slice(0, cellWidth - 1);
}
