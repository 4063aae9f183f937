import { parse } from 'smol-toml';
import { DeployError } from '../errors.js';

/**
 * What a `pyproject.toml` says about installing a server: its `[project].dependencies`, read
 * with a spec-complete TOML parser. The project itself is never installed into the shared venv
 * (every release with the same dependencies shares it); its files run from the release folder.
 */
export type PyProject = {
  readonly dependencies: readonly string[];
  readonly requiresPython: string | null;
};

export function parsePyProject(text: string, where: string): PyProject {
  let document: Record<string, unknown>;
  try {
    document = parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new DeployError('config', `${where} is not valid TOML: ${(error as Error).message.split('\n')[0]}`);
  }
  const project = document['project'];
  if (project === undefined) return { dependencies: [], requiresPython: null };
  if (typeof project !== 'object' || project === null || Array.isArray(project)) {
    throw new DeployError('config', `${where}: [project] is not a table.`);
  }
  const table = project as Record<string, unknown>;
  const dependencies = table['dependencies'] ?? [];
  if (!Array.isArray(dependencies) || dependencies.some((item) => typeof item !== 'string')) {
    throw new DeployError('config', `${where}: project.dependencies must be a list of strings (PEP 621).`);
  }
  const requiresPython = typeof table['requires-python'] === 'string' ? table['requires-python'] : null;
  return { dependencies: dependencies.map((item: string) => item.trim()).filter((item) => item !== ''), requiresPython };
}

/** pip's requirements format for the same dependencies: one per line. */
export function requirementsText(project: PyProject): string {
  return project.dependencies.length === 0 ? '' : `${project.dependencies.join('\n')}\n`;
}

/** Whether a requirements file asks pip for anything (not only comments and blank lines). */
export function requirementsNeedInstall(text: string): boolean {
  return text.split('\n').some((line) => line.trim() !== '' && !line.trim().startsWith('#'));
}
