/**
 * What each scope lets an app do, in the words the consent page uses. Which tools an MCP scope
 * opens is the resource server's configuration (its built-in tools, and each gateway server's
 * `scopes`: mcp:write may open a file server's write_file), which the auth-server does not read:
 * the words say what the scope means on any configuration, never name one tool.
 */
export const SCOPE_DESCRIPTIONS: Record<string, string> = {
  'mcp:read': 'Use the tools that read and look things up',
  'mcp:write': 'Use the tools that make changes',
  'mcp:admin': 'Use the tools for administrators',
  openid: 'Know who you are',
  profile: 'See your username',
  email: 'See your email address',
  offline_access: 'Stay connected while you are away',
};

export function describeScope(scope: string): string {
  return SCOPE_DESCRIPTIONS[scope] ?? scope;
}
