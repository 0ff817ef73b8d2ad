/**
 * MCP 2025-11-25 basic/utilities/tasks §Task Support and Handling: a receiver that did not declare
 * task support MUST process a task-augmented request (`params.task`) normally, ignoring the
 * augmentation. This server declares no `tasks` capability, but the SDK 1.32 Server refuses a
 * task-augmented `tools/call` before any handler runs, with `-32603 Internal error` ("Server does
 * not support task creation"), on both the session and the stateless path. So `params.task` is
 * removed from each request of the body (a batch's too) before it is served.
 */
export function ignoreTaskAugmentation(rpcBody: unknown): void {
  if (Array.isArray(rpcBody)) {
    for (const message of rpcBody) withoutTask(message);
  } else {
    withoutTask(rpcBody);
  }
}

function withoutTask(message: unknown): void {
  if (typeof message !== 'object' || message === null) return;
  const { params } = message as { params?: unknown };
  if (typeof params === 'object' && params !== null && 'task' in params) delete (params as { task?: unknown }).task;
}
