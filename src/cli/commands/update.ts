import { Command, Option } from 'commander';
import type { SessionUpdate } from '../../broker/api.js';
import { sessionUpdateSchema } from '../../broker/send-options.js';
import { sessionToJSON } from '../../domain/json.js';
import { validateKey } from '../../domain/keys.js';
import { PERMISSION_MODES, type PermissionMode } from '../../domain/types.js';
import { invalidInput } from '../../errors.js';
import { checkGlobals, globalsOf, withTether } from '../open.js';
import { EXIT_OK, printJSON, sessionLines, type CliContext } from '../output.js';
import { collect, labelsOf, metaOf, namesOf } from './options.js';

interface UpdateFlags {
  model?: string;
  clearModel?: boolean;
  permissionMode?: PermissionMode;
  clearPermissionMode?: boolean;
  label?: string[];
  unlabel?: string[];
  meta?: string[];
  unmeta?: string[];
  json?: boolean;
}

export function registerUpdate(program: Command, ctx: CliContext): void {
  program
    .command('update')
    .description("change the key's live session for its next turns: model, permission mode, labels, metadata")
    .argument('<key>', 'conversation key')
    .option('--model <model>', 'model of the next turns')
    .addOption(new Option('--clear-model', "remove the session's model setting").conflicts('model'))
    .addOption(new Option('--permission-mode <mode>', 'permission mode of the next turns').choices(PERMISSION_MODES))
    .addOption(new Option('--clear-permission-mode', "remove the session's permission mode setting").conflicts('permissionMode'))
    .option('--label <k=v>', 'set a label (repeatable)', collect)
    .option('--unlabel <k>', 'remove a label (repeatable)', collect)
    .option('--meta <k=v>', 'set a metadata name to a string value (repeatable)', collect)
    .option('--unmeta <k>', 'remove a metadata name (repeatable)', collect)
    .option('--json', 'print Session JSON')
    .addHelpText('after', '\nLabels and metadata are merged: names not given are kept. A turn already running keeps its settings.')
    .action(async (key: string, flags: UpdateFlags, cmd: Command) => {
      const { io } = ctx;
      checkGlobals(globalsOf(cmd), io);
      validateKey(key);
      const patch = patchOf(flags);
      const session = await withTether(cmd, io, (tether) => tether.update(key, patch));
      if (flags.json) printJSON(io.stdout, sessionToJSON(session));
      else io.stdout.write(`${sessionLines(session)}\n`);
      ctx.exitCode = EXIT_OK;
    });
}

/** The flags as a SessionUpdate, checked here so that bad input opens nothing and reaches no daemon. */
function patchOf(flags: UpdateFlags): SessionUpdate {
  // send refuses an empty --model too; clearing has a flag of its own.
  if (flags.model === '') throw invalidInput('--model must not be empty; --clear-model removes the setting');
  const labels = removals(labelsOf(flags.label), namesOf(flags.unlabel, 'label'), 'label');
  const metadata = removals(metaOf(flags.meta), namesOf(flags.unmeta, 'meta'), 'meta');
  const patch: SessionUpdate = {
    ...(flags.model !== undefined ? { model: flags.model } : flags.clearModel ? { model: null } : {}),
    ...(flags.permissionMode !== undefined ? { permissionMode: flags.permissionMode } : flags.clearPermissionMode ? { permissionMode: null } : {}),
    ...(labels !== undefined ? { labels } : {}),
    ...(metadata !== undefined ? { metadata } : {}),
  };
  if (Object.keys(patch).length === 0) {
    throw invalidInput('nothing to change: give --model, --permission-mode, --label, --meta, or --clear-model, --clear-permission-mode, --unlabel, --unmeta');
  }
  // The broker's own check (bounds of the model name, the size of the metadata), before anything is opened.
  const parsed = sessionUpdateSchema.safeParse(patch);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalidInput(`invalid update ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  return patch;
}

/** Values to set and names to remove (null) as one merge patch; a name both set and removed is refused. */
function removals(set: Record<string, string> | undefined, removed: string[], kind: 'label' | 'meta'): Record<string, string | null> | undefined {
  if (set === undefined && removed.length === 0) return undefined;
  const patch = new Map<string, string | null>(Object.entries(set ?? {}));
  for (const name of removed) {
    if (typeof patch.get(name) === 'string') throw invalidInput(`--${kind} and --un${kind} both name "${name}"`);
    patch.set(name, null);
  }
  return Object.fromEntries(patch);
}
