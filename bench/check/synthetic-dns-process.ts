/**
 * NAME
 *   bench/check/synthetic-dns-process - start synthetic-dns-server.js in its own process
 *
 * DESCRIPTION
 *   Used by bench/check and bench/firewall (both run compiled, so the server's .js sits next to
 *   this file). `queries()` asks the server, by SIGUSR2, how many queries it has received.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface DnsServer {
  readonly port: number;
  queries(): Promise<number>;
  stop(): void;
}

export async function startDnsServer(env: NodeJS.ProcessEnv = {}): Promise<DnsServer> {
  const child: ChildProcess = spawn(process.execPath, [new URL('./synthetic-dns-server.js', import.meta.url).pathname], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const lines = createInterface({ input: child.stdout! });
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const next = (): Promise<string> => new Promise((resolve) => waiting.push(resolve));
  const { port } = JSON.parse(await next()) as { port: number };
  return {
    port,
    async queries() {
      const reply = next();
      child.kill('SIGUSR2');
      return (JSON.parse(await reply) as { queries: number }).queries;
    },
    stop() {
      child.kill('SIGTERM');
    },
  };
}
