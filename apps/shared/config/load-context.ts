/** What a configuration is read against: the environment (for secrets named by `*_env`) and the directory relative paths start from. */
export interface LoadContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
}
