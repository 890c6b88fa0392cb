// One child process run to its end, its output collected: the tests' common way to run the
// `galaxy` CLI or a lint tool as an awaited child. Awaited, not spawnSync: a synchronous run
// freezes the test's event loop, and an agent's idle keep-alive connection can close under
// it (the next fetch then fails with 'other side closed').
import { spawn } from 'node:child_process';

export interface ProcessResult {
  /** Exit status; null when the process was killed by a signal (e.g. at timeoutMs). */
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunProcessOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** SIGKILLs the process after this long; none by default. */
  readonly timeoutMs?: number;
}

/** Runs `command ARGS...`; resolves when it exits and its output is closed. */
export function runProcess(command: string, args: readonly string[], options: RunProcessOptions = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
