export type GlobalOptions = {
  readonly config?: string;
  readonly target?: string;
  readonly yes?: boolean;
  readonly json?: boolean;
  readonly force?: boolean;
  readonly verbose?: boolean;
  readonly color?: boolean;
  readonly acceptHostKey?: string;
};
