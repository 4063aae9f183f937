import { Box, useApp, useInput, useStdin, useWindowSize } from 'ink';
import { useEffect, useMemo, useState, type ReactElement } from 'react';
import { type AnswerTexts, initFields } from './engine-port.js';
import type { InitWizardPort } from './init-wizard-port.js';
import { isCtrlC } from './keys.js';
import { ColorContext, Line, Paint, wrapRows, type Tone } from './paint.js';
import { editLine } from './text-input.js';
import { detectionLines } from './init-detection-view.js';

export type { InitWizardPort, WorkflowOffer } from './init-wizard-port.js';

type Outcome = { readonly tone: Tone; readonly text: string };
type Stage = 'form' | 'review' | 'overwrite' | 'workflow' | 'busy' | 'done';

export function InitWizard({ port, color }: { port: InitWizardPort; color: boolean }): ReactElement {
  const { exit, waitUntilRenderFlush } = useApp();
  const { columns, rows } = useWindowSize();
  const { isRawModeSupported } = useStdin();
  const [texts, setTexts] = useState<AnswerTexts>(port.initial);
  const [index, setIndex] = useState(0);
  const [cursor, setCursor] = useState(port.initial.app.length);
  const [sourceShown, setSourceShown] = useState(port.initial.source);
  const [problem, setProblem] = useState<string | null>(null);
  const [stage, setStage] = useState<Stage>('form');
  const [offset, setOffset] = useState(0);
  const [outcomes, setOutcomes] = useState<Outcome[]>([]);
  const [closing, setClosing] = useState<number | null>(null);

  const field = initFields[index]!;
  const review = useMemo(() => (stage === 'review' ? port.render(texts).trimEnd().split('\n') : []), [stage, texts]);
  const paneHeight = Math.max(3, rows - 4);
  const maxOffset = Math.max(0, review.length - paneHeight);

  useEffect(() => {
    if (closing !== null) void waitUntilRenderFlush().then(() => exit(closing));
  }, [closing]);

  const finish = (code: number, more: Outcome[] = []) => {
    setOutcomes((current) => [...current, ...more]);
    setStage('done');
    setClosing(code);
  };
  const goTo = (next: number, current: AnswerTexts = texts) => {
    setIndex(next);
    setCursor(current[initFields[next]!.key].length);
    setProblem(null);
  };
  const accept = (current: AnswerTexts = texts) => {
    const found = port.problem(field.key, current);
    if (found !== null) return setProblem(found);
    let next = current;
    if (field.key === 'source' && current.source.trim() !== sourceShown.trim()) {
      // A new folder has its own entry, requirements and ontologies, and a name unless one was typed.
      const { app, ...inFolder } = port.suggestFor(current.source.trim());
      next = { ...current, ...inFolder, ...(app !== undefined && current.app === port.initial.app ? { app } : {}) };
      setTexts(next);
      setSourceShown(current.source);
    }
    if (index < initFields.length - 1) return goTo(index + 1, next);
    const wrong = initFields.findIndex((candidate) => port.problem(candidate.key, next) !== null);
    if (wrong !== -1) {
      goTo(wrong, next);
      return setProblem(port.problem(initFields[wrong]!.key, next));
    }
    setOffset(0);
    setStage('review');
  };
  const writeConfig = (replace: boolean) => {
    try {
      const line = port.write(texts, replace);
      setOutcomes([{ tone: 'ok', text: `✔ ${line}` }]);
    } catch (error) {
      return finish(exitCodeOf(error), [{ tone: 'fail', text: `✖ ${error instanceof Error ? error.message : String(error)}` }]);
    }
    const { workflow } = port;
    if (!workflow.available) return finish(0, [{ tone: 'muted', text: `No CI workflow offered: ${workflow.reason}` }, nextSteps]);
    setStage('workflow');
  };
  const writeWorkflow = (replace: boolean) => {
    if (!port.workflow.available) return;
    setStage('busy');
    port.workflow.write(replace).then(
      ([first, ...rest]) =>
        finish(0, [
          { tone: 'ok', text: `✔ ${first ?? ''}` },
          ...rest.map((text): Outcome => ({ tone: 'plain', text: `  ${text}` })),
          nextSteps,
        ]),
      (error: unknown) =>
        finish(exitCodeOf(error), [{ tone: 'fail', text: `✖ ${error instanceof Error ? error.message : String(error)}` }]),
    );
  };

  useInput(
    (input, key) => {
      if (closing !== null || stage === 'busy' || stage === 'done') return;
      if (isCtrlC(input, key))
        return finish(130, [
          { tone: 'warn', text: stage === 'workflow' ? '■ Stopped: no workflow written.' : '■ Stopped: nothing was written.' },
        ]);
      if (stage === 'form') {
        if (key.escape) return finish(0, [{ tone: 'muted', text: 'Nothing was written.' }]);
        if (key.return || key.tab || key.downArrow) return key.tab && key.shift ? index > 0 && goTo(index - 1) : accept();
        if (key.upArrow) return index > 0 ? goTo(index - 1) : undefined;
        const edited = editLine(texts[field.key], cursor, input, key);
        if (edited === null) return;
        const next = { ...texts, [field.key]: edited.value };
        setTexts(next);
        setCursor(edited.cursor);
        setProblem(null);
        // A value pasted with its Enter answers the field, as typing it and pressing Enter would.
        if (edited.submit) accept(next);
        return;
      }
      if (stage === 'review') {
        if (key.upArrow || input === 'k') return setOffset(Math.max(0, offset - 1));
        if (key.downArrow || input === 'j') return setOffset(Math.min(maxOffset, offset + 1));
        if (key.pageUp) return setOffset(Math.max(0, offset - paneHeight));
        if (key.pageDown || input === ' ') return setOffset(Math.min(maxOffset, offset + paneHeight));
        if (input === 'q' || key.escape) return finish(0, [{ tone: 'muted', text: 'Nothing was written.' }]);
        if (input === 'e' || key.leftArrow) return setStage('form');
        if (key.return || input === 'w') {
          if (port.configExists && !port.force) return setStage('overwrite');
          return writeConfig(port.configExists);
        }
        return;
      }
      const yes = input === 'y' || input === 'Y';
      const no = input === 'n' || input === 'N' || input === 'q' || key.escape;
      if (stage === 'overwrite') {
        if (yes) return writeConfig(true);
        if (no || key.return) return finish(0, [{ tone: 'muted', text: `Left ${port.configName} as it was: nothing was written.` }]);
        return;
      }
      const offer = port.workflow;
      if (stage === 'workflow' && offer.available) {
        const exists = offer.exists();
        const defaultYes = offer.preselected && !exists;
        const skip = () =>
          finish(0, [
            {
              tone: 'muted',
              text: exists ? `Left ${offer.path} as it was.` : 'No CI workflow written (mcp-deploy ci github writes one later).',
            },
            nextSteps,
          ]);
        if (yes || (key.return && defaultYes)) return writeWorkflow(exists);
        if (no || key.return) return skip();
      }
    },
    { isActive: isRawModeSupported },
  );

  const header = (
    <Line key="title">
      <Paint bold>{'mcp-deploy · init'}</Paint>
      <Paint tone="muted">{` · ${port.detection.root}`}</Paint>
    </Line>
  );
  const question = (tone: Tone, text: string) =>
    wrapRows(text, columns, '  ').map((row, part) => (
      <Line key={`question.${part}`}>
        <Paint tone={tone}>{row}</Paint>
      </Line>
    ));
  let body: ReactElement;
  if (stage === 'form') {
    body = (
      <>
        {/* A form taller than the terminal would make Ink redraw the whole screen on every key. */}
        {rows >= initFields.length + 15 ? (
          <>
            {detectionLines(port)}
            <Line />
          </>
        ) : null}
        {initFields.map((candidate, position) => {
          const value = texts[candidate.key];
          const active = position === index;
          const label = candidate.label.padEnd(15);
          return (
            <Box key={candidate.key} flexDirection="column">
              <Line>
                {active ? (
                  <Paint tone="info">{`› ${label}`}</Paint>
                ) : (
                  <Paint tone={position < index ? 'plain' : 'muted'}>{`  ${label}`}</Paint>
                )}
                {active ? (
                  <>
                    {value.slice(0, cursor)}
                    <Paint inverse>{value[cursor] ?? ' '}</Paint>
                    {value.slice(cursor + 1)}
                  </>
                ) : value === '' ? (
                  <Paint tone="muted">{candidate.required ? '…' : '(none)'}</Paint>
                ) : (
                  value
                )}
              </Line>
              {active ? (
                <Line>
                  {'                 '}
                  {problem === null ? (
                    <Paint tone="muted">{candidate.hint}</Paint>
                  ) : (
                    <Paint tone="fail">{`✖ ${candidate.label}: ${problem}`}</Paint>
                  )}
                </Line>
              ) : null}
            </Box>
          );
        })}
        <Line />
        <Line>
          <Paint tone="muted">enter next · ↑ back · ctrl-u clear · esc quit (nothing written)</Paint>
        </Line>
      </>
    );
  } else if (stage === 'review') {
    const shown = review.slice(offset, offset + paneHeight);
    body = (
      <>
        <Line>
          <Paint tone="info">{`${port.configName} as it will be written`}</Paint>
          <Paint tone="muted">
            {review.length > paneHeight ? ` · lines ${offset + 1}-${offset + shown.length} of ${review.length}` : ''}
          </Paint>
        </Line>
        {shown.map((line, position) => (
          <Line key={`${offset + position}`}>{line === '' ? ' ' : line}</Line>
        ))}
        <Line>
          <Paint tone="muted">{`enter ${port.configExists ? 'replace' : 'write'} ${port.configName} · e edit · ↑↓ scroll · q quit (nothing written)`}</Paint>
        </Line>
      </>
    );
  } else {
    body = (
      <>
        {outcomes.flatMap((outcome, position) =>
          // Results are read whole: wrapped, never cut at the edge.
          wrapRows(outcome.text, columns, '  ').map((row, part) => (
            <Line key={`outcome.${position}.${part}`}>
              <Paint tone={outcome.tone}>{row}</Paint>
            </Line>
          )),
        )}
        {stage === 'overwrite' ? question('warn', `${port.configName} already exists. Replace it? [y/N]`) : null}
        {stage === 'workflow' && port.workflow.available
          ? question(
              'info',
              port.workflow.exists()
                ? `${port.workflow.path} already exists. Replace it? [y/N]`
                : `Write ${port.workflow.path} (GitHub Actions: deploys on pushes and v* tags)? ${port.workflow.preselected ? '[Y/n]' : '[y/N]'}`,
            )
          : null}
        {stage === 'busy' ? <Line>Writing the workflow…</Line> : null}
      </>
    );
  }
  return (
    <ColorContext.Provider value={color}>
      <Box flexDirection="column" width={columns}>
        {header}
        {body}
      </Box>
    </ColorContext.Provider>
  );
}

const nextSteps: Outcome = {
  tone: 'info',
  text: 'Next: mcp-deploy validate (local checks), mcp-deploy setup (lays out the host), mcp-deploy doctor, then mcp-deploy.',
};

function exitCodeOf(error: unknown): number {
  const code = (error as { exitCode?: unknown } | null)?.exitCode;
  return typeof code === 'number' ? code : 1;
}
