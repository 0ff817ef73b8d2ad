/** What each scope lets an app do, in the words the consent page uses. */
export const SCOPE_DESCRIPTIONS: Record<string, string> = {
  'mcp:read': 'Read your notes and see who you are signed in as',
  'mcp:write': 'Create and delete your notes',
  'mcp:admin': 'See recent activity on this server (administrators)',
  openid: 'Know who you are',
  profile: 'See your username',
  email: 'See your email address',
  offline_access: 'Stay connected while you are away',
};

export function describeScope(scope: string): string {
  return SCOPE_DESCRIPTIONS[scope] ?? scope;
}
