import { contractFormat, normalizeContract, type Contract } from '../contract/contract.js';
import type { McpConnection } from './mcp-client.js';

type Loose = Record<string, unknown>;

/**
 * Reads a server's contract through the SDK client: serverInfo and capabilities from the
 * negotiation, then tools, prompts, resources and resource templates, each list followed through
 * all its pages by the SDK (listTools() and its siblings aggregate when given no cursor). A list
 * whose capability the server does not declare is empty, not asked for.
 */
export async function readContract(connection: McpConnection, tools?: readonly Loose[]): Promise<Contract> {
  const { client, requestOptions } = connection;
  const options = { ...requestOptions, cacheMode: 'bypass' as const };
  const capabilities = (client.getServerCapabilities() ?? {}) as Loose;
  const server = client.getServerVersion();
  // The lists are asked for at once: none waits for another's round trips.
  const [listedTools, prompts, resources, templates] = await Promise.all([
    tools ?? (capabilities['tools'] ? client.listTools(undefined, options).then((listed) => listed.tools) : []),
    capabilities['prompts'] ? client.listPrompts(undefined, options).then((listed) => listed.prompts) : [],
    capabilities['resources'] ? client.listResources(undefined, options).then((listed) => listed.resources) : [],
    capabilities['resources'] ? client.listResourceTemplates(undefined, options).then((listed) => listed.resourceTemplates) : [],
  ]);
  return normalizeContract({
    format: contractFormat,
    protocol: { era: connection.era, version: connection.protocolVersion },
    serverInfo: { name: server?.name ?? '', version: server?.version ?? '', ...pick(server as Loose | undefined, ['title']) },
    capabilities,
    tools: listedTools.map((tool) => ({
      name: String(tool['name']),
      inputSchema: (tool['inputSchema'] ?? {}) as Loose,
      ...pick(tool, ['title', 'description', 'outputSchema', 'annotations']),
    })),
    prompts: prompts.map((prompt) => ({
      name: prompt.name,
      ...pick(prompt as Loose, ['title', 'description']),
      arguments: (prompt.arguments ?? []).map((argument) => ({
        name: argument.name,
        ...pick(argument as Loose, ['title', 'description', 'required']),
      })),
    })),
    resources: resources.map((resource) => ({
      uri: resource.uri,
      name: resource.name,
      ...pick(resource as Loose, ['title', 'description', 'mimeType']),
    })),
    resourceTemplates: templates.map((template) => ({
      uriTemplate: template.uriTemplate,
      name: template.name,
      ...pick(template as Loose, ['title', 'description', 'mimeType']),
    })),
  });
}

/** The named fields that are present: the contract keeps what a client sees, not the SDK's _meta or cache hints. */
function pick(source: Loose | undefined, keys: readonly string[]): Loose {
  const picked: Loose = {};
  if (source === undefined) return picked;
  for (const key of keys) if (source[key] !== undefined) picked[key] = source[key];
  return picked;
}
