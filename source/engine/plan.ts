import { edgeHeaders } from './keys-host.js';
import { type Contract, type ContractSummary, summarizeContract } from '../contract/contract.js';
import { type ContractDiff, diffContracts } from '../contract/diff.js';
import { hostLayout } from '../host/layout.js';
import { readLock, type LockStatus } from '../host/lock.js';
import { listReleases } from '../host/releases.js';
import { readState, type HostState } from '../host/state.js';
import type { Transport } from '../remote/transport.js';
import type { EngineContext } from './context.js';
import { bytesToUpload, diffManifests } from './manifest.js';
import type { Release } from '../host/releases.js';
import { probeHostRuntime } from '../runtime/host-runtime.js';
import { readInstallInputs } from '../runtime/install-inputs.js';
import { decideInstall, type InstallDecision, type InstallProblem } from '../runtime/install-plan.js';
import type { Colour } from './colours.js';
import { readIncludes } from './nginx.js';
import { observeServing } from './served-by.js';
import { liveSessions, SessionLogReader } from './session-log.js';
import { prepareRelease, readRemoteManifest } from './steps/upload.js';

/** What the host looks like right now, as far as an operator about to change it cares. */
export type HostOverview = {
  /** How the transport names the host: `deploy@example.org:22`. */
  readonly host: string;
  readonly state: HostState | null;
  readonly lock: LockStatus;
};

export type RequirementsPlan =
  | { readonly kind: 'none'; readonly reason: string }
  | { readonly kind: 'command'; readonly command: string }
  | SharedInstallPlan<'venv'>
  | SharedInstallPlan<'deps'>;

/** A shared venv (`shared/venvs/<hash>`) or install folder (`shared/deps/<hash>`). */
export type SharedInstallPlan<Kind extends 'venv' | 'deps'> = {
  readonly kind: Kind;
  readonly hash: string;
  /** The active release's hash of the same kind; null when there is none or it recorded none. */
  readonly activeHash: string | null;
  /** Whether the install step will need a venv or folder the active release does not use. */
  readonly changed: boolean;
  /** The tool that installs (pip, uv, npm, …) and why, in words. */
  readonly why: string;
  /** What stops the install on this host, with what to do; null when nothing does. */
  readonly problem: InstallProblem | null;
  /** The host's node against package.json's engines.node, for a node runtime. */
  readonly node: InstallDecision['node'];
};

export type ToolsPlan = {
  /** What the active release served when it passed its checks; null when it recorded nothing. */
  readonly active: readonly string[] | null;
  /** What the new release serves (from local validation); null when validation did not list them. */
  readonly next: readonly string[] | null;
  readonly appearing: readonly string[];
  readonly disappearing: readonly string[];
};

/** The new release's MCP contract (from local validation) against the active release's recorded one. */
export type ContractPlan = {
  readonly active: ContractSummary | null;
  readonly next: ContractSummary | null;
  /** Null when either side is unknown (no validation, a first deploy, an active release that recorded none). */
  readonly diff: ContractDiff | null;
};

export type DeployPlan = HostOverview & {
  readonly target: string;
  /** The release the new one is compared with (and hard-links unchanged files from). */
  readonly base: string | null;
  /** False when the base has no readable manifest: then every file is sent. */
  readonly baseHasManifest: boolean;
  readonly files: {
    readonly total: number;
    readonly added: number;
    readonly changed: number;
    readonly removed: number;
    readonly unchanged: number;
  };
  readonly bytes: { readonly total: number; readonly upload: number };
  readonly requirements: RequirementsPlan;
  readonly tools: ToolsPlan;
  readonly contract: ContractPlan;
  /**
   * Nothing a deploy would change: the active release has these exact files and requirements,
   * and the config ships no environment (whose change the plan cannot see). The terminal app says
   * so instead of asking.
   */
  readonly nothingChanged: boolean;
  readonly sessions: SessionsPlan;
};

/** What the drain will do with the sessions of the colour that serves now. */
export type SessionsPlan = {
  /** Whether the public URL names the colour that answers (the site pins sessions); null when it did not answer. */
  readonly pinned: boolean | null;
  /** The colour that serves now (whose sessions the drain waits for); null on a first deploy. */
  readonly colour: Colour | null;
  /** Its sessions with a request within drain.sessionIdleSeconds, from nginx's session log. */
  readonly active: number;
  readonly idleSeconds: number;
  readonly maxSeconds: number;
};

/**
 * What a deploy would do, computed without changing anything on the host: the same local hashing
 * and manifest comparison the upload step does, the install decision, and what the active release
 * recorded. `tools` are the new release's tools when the caller has validated it already.
 *
 * The answer can go stale (another operator may deploy in between); the deploy itself decides
 * again under the lock, so a stale plan costs accuracy, never safety.
 */
export async function planDeploy(
  context: EngineContext,
  transport: Transport,
  options: { readonly tools?: readonly string[] | null; readonly contract?: Contract | null } = {},
): Promise<DeployPlan> {
  const { config, target } = context;
  const layout = hostLayout(target.path);
  const inputs = readInstallInputs(config);
  const log = new SessionLogReader(transport, target.nginx.sessionLog);
  const [local, host, state, lock, includes, clock, served] = await Promise.all([
    prepareRelease(config),
    probeHostRuntime(transport, config, inputs),
    readState(transport, layout),
    readLock(transport, layout, { staleMinutes: target.lockStaleMinutes, localHostName: context.localHost }),
    readIncludes(transport, target),
    log.read(),
    edgeHeaders(transport, target)
      .then((headers) => observeServing(target.publicUrl, config.health, { headers }))
      .catch(() => null),
  ]);
  const servingColour = includes.routing?.active ?? state?.active?.colour ?? null;
  const servingTag = servingColour === null ? null : (includes.routing?.tags[servingColour] ?? null);
  const base = state?.active?.release ?? null;
  const [remote, releases] = await Promise.all([
    readRemoteManifest(transport, layout, base),
    base === null ? Promise.resolve([]) : listReleases(transport, layout),
  ]);
  const activeRelease = base === null ? undefined : releases.find((release) => release.id === base);
  const diff = diffManifests(local.manifest, remote);
  const decision = decideInstall(config, inputs, host);
  const requirements = requirementsPlan(decision, activeRelease);
  const requirementsChanged = (requirements.kind === 'venv' || requirements.kind === 'deps') && requirements.changed;
  const filesChanged = remote === null || diff.added.length + diff.changed.length + diff.removed.length > 0;
  const shipsEnvironment = config.env.file !== undefined || config.env.required.length > 0;
  return {
    target: target.name,
    host: transport.label,
    state,
    lock,
    base,
    baseHasManifest: remote !== null,
    files: {
      total: local.manifest.length,
      added: diff.added.length,
      changed: diff.changed.length,
      removed: diff.removed.length,
      unchanged: diff.unchanged.length,
    },
    bytes: { total: local.manifest.reduce((sum, entry) => sum + entry.size, 0), upload: bytesToUpload(diff) },
    requirements,
    tools: diffTools(activeRelease?.tools ?? null, options.tools ?? null),
    contract: planContract(activeRelease?.contract ?? null, options.contract ?? null),
    sessions: {
      pinned: served === null ? null : served.colour !== null,
      colour: state?.active ? servingColour : null,
      active: servingTag === null ? 0 : liveSessions(log.book, servingTag, clock.now - config.drain.sessionIdleSeconds).length,
      idleSeconds: config.drain.sessionIdleSeconds,
      maxSeconds: config.drain.sessionMaxSeconds,
    },
    nothingChanged: base !== null && !filesChanged && !requirementsChanged && !shipsEnvironment,
  };
}

export function planContract(active: Contract | null, next: Contract | null): ContractPlan {
  return {
    active: active === null ? null : summarizeContract(active),
    next: next === null ? null : summarizeContract(next),
    diff: active === null || next === null ? null : diffContracts(active, next),
  };
}

function requirementsPlan(decision: InstallDecision, active: Release | undefined): RequirementsPlan {
  const { plan } = decision;
  if (plan.kind === 'none' || plan.kind === 'command') return plan;
  const activeHash = (plan.kind === 'venv' ? active?.requirementsHash : active?.depsHash) ?? null;
  const shared = {
    hash: plan.hash,
    activeHash,
    changed: plan.hash !== activeHash,
    why: decision.why,
    problem: decision.problem,
    node: decision.node,
  };
  return plan.kind === 'venv' ? { kind: 'venv', ...shared } : { kind: 'deps', ...shared };
}

/** Tools that appear and disappear between two recorded lists; nothing when either is unknown. */
export function diffTools(active: readonly string[] | null, next: readonly string[] | null): ToolsPlan {
  if (active === null || next === null) return { active, next, appearing: [], disappearing: [] };
  const before = new Set(active);
  const after = new Set(next);
  return {
    active,
    next,
    appearing: [...after].filter((tool) => !before.has(tool)).sort(),
    disappearing: [...before].filter((tool) => !after.has(tool)).sort(),
  };
}

/** The header's facts alone: state and lock, two small reads. */
export async function readOverview(context: EngineContext, transport: Transport): Promise<HostOverview> {
  const layout = hostLayout(context.target.path);
  const [state, lock] = await Promise.all([
    readState(transport, layout),
    readLock(transport, layout, { staleMinutes: context.target.lockStaleMinutes, localHostName: context.localHost }),
  ]);
  return { host: transport.label, state, lock };
}
