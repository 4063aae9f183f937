import { execa } from 'execa';
import type { Config } from '../config/load.js';
import { StepFailure, StepSkipped } from '../run/step.js';
import type { SourceEntry } from '../project/source-files.js';

export type PythonFinding = { readonly file: string; readonly line: number; readonly column: number; readonly message: string };

/**
 * Runs in the configured interpreter, so syntax is judged by the Python that will run the code
 * (an f-string or `match` valid in 3.12 may not be in 3.8). compile() only parses and builds
 * bytecode in memory: nothing is imported or executed, and no __pycache__ is written.
 * Reads a JSON list of paths on stdin and prints one JSON list of findings.
 */
const checker = `
import json, sys, warnings
warnings.simplefilter("ignore")
findings = []
for index, path in enumerate(json.load(sys.stdin)):
    try:
        with open(path, "rb") as handle:
            source = handle.read()
        compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as error:
        findings.append({"index": index, "line": error.lineno or 0, "column": error.offset or 0, "message": error.msg or str(error)})
    except (ValueError, OSError) as error:
        findings.append({"index": index, "line": 0, "column": 0, "message": str(error)})
json.dump(findings, sys.stdout)
`;

/**
 * Checks every `.py` file in `files` with one interpreter process. Throws StepSkipped when there
 * are none and StepFailure with `path.py:LINE: message` details on syntax errors or when the
 * interpreter cannot run. Returns how many files were checked.
 */
export async function checkPythonSyntax(
  config: Pick<Config, 'runtime'>,
  files: readonly SourceEntry[],
  options: { readonly signal?: AbortSignal } = {},
): Promise<{ checked: number }> {
  const python = files.filter(
    (entry): entry is Extract<SourceEntry, { kind: 'file' }> => entry.kind === 'file' && entry.path.endsWith('.py'),
  );
  if (python.length === 0) throw new StepSkipped('no .py files in the source folder');
  const interpreter = config.runtime.python;
  const result = await execa(interpreter, ['-I', '-c', checker], {
    input: JSON.stringify(python.map((entry) => entry.absolutePath)),
    reject: false,
    timeout: 120_000,
    ...(options.signal ? { cancelSignal: options.signal } : {}),
  });
  if (result.failed && (result as { code?: string }).code === 'ENOENT') {
    throw new StepFailure(`Python interpreter "${interpreter}" was not found.`, [], {
      hint: `Install Python 3 (Debian/Ubuntu: apt-get install python3; macOS: brew install python), or set runtime.python to the interpreter's path.`,
    });
  }
  if (result.exitCode !== 0) {
    const why = result.timedOut ? 'timed out after 120 s' : `exited with ${result.exitCode ?? result.signal ?? 'an error'}`;
    throw new StepFailure(`"${interpreter}" ${why} while checking syntax.`, tail(String(result.stderr ?? '')));
  }
  let raw: { index: number; line: number; column: number; message: string }[];
  try {
    raw = JSON.parse(String(result.stdout)) as typeof raw;
  } catch {
    throw new StepFailure(`"${interpreter}" did not print the expected report; is it Python 3?`, tail(String(result.stdout)));
  }
  const findings: PythonFinding[] = raw.map((finding) => ({
    file: python[finding.index]?.path ?? '?',
    line: finding.line,
    column: finding.column,
    message: finding.message,
  }));
  if (findings.length > 0) {
    throw new StepFailure(
      `${findings.length} of ${python.length} Python file${python.length === 1 ? '' : 's'} ${findings.length === 1 ? 'has a syntax error' : 'have syntax errors'}.`,
      findings.map((finding) => `${finding.file}:${finding.line}: ${finding.message}`),
    );
  }
  return { checked: python.length };
}

function tail(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(-20);
}
