/**
 * NAME
 *   cli/init-command - `blocksmith init`: write a commented blocksmith.yaml
 *
 * DESCRIPTION
 *   Writes config/template.ts's file to ./blocksmith.yaml (or --output FILE), never over an
 *   existing file unless --force. Mode 0600: a configuration may hold a Redis password.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { BlockSmithError, EXIT } from '../errors.js';
import { DEFAULT_CONFIG_FILE } from '../config/load.js';
import { renderConfigTemplate } from '../config/template.js';

const CONFIG_FILE_MODE = 0o600;

export function registerInitCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('init')
    .description(`Write a commented configuration file (default ./${DEFAULT_CONFIG_FILE})`)
    .option('-o, --output <file>', 'where to write it', DEFAULT_CONFIG_FILE)
    .option('--force', 'overwrite an existing file')
    .action((flags: { output: string; force?: boolean }) => {
      try {
        writeFileSync(flags.output, renderConfigTemplate(), { mode: CONFIG_FILE_MODE, flag: flags.force === true ? 'w' : 'wx' });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') throw new BlockSmithError('BS_ERR_USAGE', `${flags.output} exists; use --force to overwrite it`);
        throw new BlockSmithError('BS_ERR_INPUT_UNREADABLE', `${flags.output}: cannot write (${code ?? 'error'})`, { cause: err });
      }
      process.stdout.write(`wrote ${flags.output}\n`);
      setExit(EXIT.ok);
    });
}
