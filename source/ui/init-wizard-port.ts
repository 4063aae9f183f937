import type { AnswerTexts, Detection, FieldKey } from './engine-port.js';

/** Everything the wizard needs from outside; the command implements it (disk, config, workflow). */
export type InitWizardPort = {
  readonly detection: Detection;
  readonly initial: AnswerTexts;
  /** The file written, as shown: `.mcpdeployrc`. */
  readonly configName: string;
  readonly configExists: boolean;
  /** --force: replace existing files without asking. */
  readonly force: boolean;
  /** What is wrong with one answer, given the others (the source folder for the entry), or null. */
  problem(key: FieldKey, texts: AnswerTexts): string | null;
  /** Suggestions for the answers that live in the source folder (and its name), after it changed. */
  suggestFor(source: string): Pick<AnswerTexts, 'entry' | 'requirements' | 'ontologies'> & { readonly app?: string };
  render(texts: AnswerTexts): string;
  /** Writes the config; returns the line that says what was written. Throws when it cannot. */
  write(texts: AnswerTexts, replace: boolean): string;
  readonly workflow: WorkflowOffer;
};

export type WorkflowOffer =
  | { readonly available: false; readonly reason: string }
  | {
      readonly available: true;
      /** As shown: `.github/workflows/mcp-deploy.yml`. */
      readonly path: string;
      /** --ci-github: yes is the default answer. */
      readonly preselected: boolean;
      exists(): boolean;
      /** Writes it from the config just written; returns lines to show. */
      write(replace: boolean): Promise<readonly string[]>;
    };
