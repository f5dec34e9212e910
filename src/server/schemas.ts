import { z } from 'zod';
import { approvalDecisionSchema } from '../broker/approvals.js';
import { sessionSettingsShape, sessionUpdateSchema } from '../broker/send-options.js';
import { APPROVAL_STATUSES } from '../domain/approvals.js';
import { BACKENDS, SESSION_STATUSES, TURN_STATUSES } from '../domain/types.js';

/**
 * The HTTP contract in one place: routes are registered with these schemas, which validate
 * request bodies and queries and from which `/openapi.json` is generated, so the document cannot
 * drift from the checks. Responses are described here too (the server builds them from
 * domain/json.ts; the schemas document them and never rewrite them).
 */

/** Session settings a client may choose over HTTP. No `env`: agent environment is the operator's. */
export const sessionOptionsSchema = z.object(sessionSettingsShape).strict().meta({ id: 'SessionOptions' });

export const sendMessageBodySchema = z
  .object({
    prompt: z.string().min(1),
    options: sessionOptionsSchema.optional(),
    onBusy: z.enum(['queue', 'reject']).optional(),
  })
  .strict()
  .meta({ id: 'SendMessage' });

export const sendMessageQuerySchema = z.object({ async: z.enum(['0', '1', 'true', 'false']).optional() }).strict();
export type SendMessageQuery = z.infer<typeof sendMessageQuerySchema>;

/** `POST /v1/sessions/{key}/regenerate`: nothing to give; the prompt is the key's last. */
export const regenerateBodySchema = z.object({}).strict().meta({ id: 'RegenerateRequest' });

/** `POST /v1/sessions/{key}/continue`: the agent goes on without new text. */
export const continueBodySchema = z
  .object({ onBusy: z.enum(['queue', 'reject']).optional() })
  .strict()
  .meta({ id: 'ContinueRequest' });

/**
 * The body of an operation that takes none (reset, interrupt, compact, delete): no body, or `{}`.
 * Anything else is refused (400) before the operation runs, so a client's mistake does nothing.
 */
export const emptyBodySchema = z.object({}).strict().meta({ id: 'EmptyRequest' });

/** The query of a route that takes no parameters: a mistyped one is refused, never ignored. */
export const noQuerySchema = z.object({}).strict();

export const listSessionsQuerySchema = z
  .object({
    status: z.enum(SESSION_STATUSES).optional(),
    label: z.union([z.string(), z.array(z.string())]).optional().describe('`name=value`; repeat for several labels (all must match).'),
    meta: z
      .union([z.string(), z.array(z.string())])
      .optional()
      .describe('`name=value` of a top-level metadata string (links such as `taskId`); repeat for several (all must match).'),
    q: z.string().min(1).max(256).optional().describe('Keys that start with this (a search: `discord:`, `team:frontend->`).'),
    backend: z.enum(BACKENDS).optional().describe('Sessions of this agent only.'),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
    offset: z.coerce.number().int().min(0).max(10_000_000).optional(),
  })
  .strict();

export const listTurnsQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(10_000).optional() }).strict();

export const turnEventsQuerySchema = z.object({ after: z.coerce.number().int().min(0).optional() }).strict();

const usageSchema = z
  .object({ inputTokens: z.number(), outputTokens: z.number(), cacheReadTokens: z.number(), cacheWriteTokens: z.number(), costUsd: z.number() })
  .meta({ id: 'Usage' });
const contextSchema = z.object({ tokens: z.number(), window: z.number(), ratio: z.number() }).meta({ id: 'Context' });
const turnErrorSchema = z.object({ code: z.string(), message: z.string() }).meta({ id: 'TurnError' });

export const errorResponseSchema = z.object({ error: turnErrorSchema }).meta({ id: 'Error' });

export const sessionSchema = z
  .object({
    id: z.string(),
    key: z.string(),
    tenant: z.string(),
    backend: z.string(),
    agentSessionId: z.string().nullable(),
    status: z.enum(SESSION_STATUSES),
    generation: z.number().int(),
    config: z.object({
      model: z.string().nullable(),
      cwd: z.string(),
      permissionMode: z.string().nullable(),
      appendSystemPrompt: z.string().nullable(),
      maxTurns: z.number().nullable(),
      allowedTools: z.array(z.string()).optional(),
      disallowedTools: z.array(z.string()).optional(),
      approvals: z.literal('ask').optional(),
      approvalTimeoutSec: z.number().int().optional(),
      approvalRules: z.object({ allow: z.array(z.string()).optional(), deny: z.array(z.string()).optional() }).optional(),
    }),
    labels: z.record(z.string(), z.string()),
    /** Free-form data and links (`taskId`, `mcpSessionId`); absent from older daemons. */
    metadata: z.record(z.string(), z.unknown()).default({}),
    turns: z.number().int(),
    queued: z.number().int(),
    usage: usageSchema,
    context: contextSchema,
    createdAt: z.string(),
    lastActiveAt: z.string(),
    expiresAt: z.string().nullable(),
    closedAt: z.string().nullable(),
    closeReason: z.string().nullable(),
  })
  .meta({ id: 'Session' });

export const approvalSchema = z
  .object({
    id: z.string(),
    tenant: z.string(),
    key: z.string(),
    sessionId: z.string(),
    turnId: z.string(),
    kind: z.enum(['tool', 'question']),
    toolUseId: z.string(),
    tool: z.string(),
    input: z.record(z.string(), z.unknown()),
    title: z.string().nullable(),
    suggestions: z.array(z.unknown()).describe("The agent's own rule suggestions for \"don't ask again\"; `remember: \"session\"` applies them."),
    status: z.enum(APPROVAL_STATUSES),
    decidedBy: z.enum(['person', 'rule', 'timeout', 'interrupt']).nullable(),
    message: z.string().nullable(),
    remember: z.literal('session').nullable(),
    answers: z.record(z.string(), z.string()).nullable(),
    requestedAt: z.string(),
    decidedAt: z.string().nullable(),
    expiresAt: z.string(),
    answeredAt: z.string().nullable().describe('When the agent was given the decision (null: not yet).'),
  })
  .meta({ id: 'Approval' });

export const approvalDecisionBodySchema = approvalDecisionSchema.meta({ id: 'ApprovalDecision' });

export const listApprovalsQuerySchema = z
  .object({
    status: z.enum(APPROVAL_STATUSES).optional(),
    key: z.string().min(1).max(256).optional(),
    turnId: z.string().min(1).max(128).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  })
  .strict();

export const approvalsResponseSchema = z.object({ approvals: z.array(approvalSchema) });

export const turnSchema = z
  .object({
    id: z.string(),
    sessionId: z.string(),
    key: z.string(),
    tenant: z.string(),
    seq: z.number().int(),
    status: z.enum(TURN_STATUSES),
    prompt: z.string(),
    text: z.string().nullable(),
    error: turnErrorSchema.nullable(),
    usage: usageSchema.nullable(),
    context: contextSchema.nullable(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    endedAt: z.string().nullable(),
    durationMs: z.number().nullable(),
    /** The turn whose reply this one regenerated; absent from older daemons. */
    regenerates: z.string().nullable().default(null),
    /** A stop was asked for while it runs; absent from older daemons. */
    interruptRequested: z.boolean().default(false),
    /** `GET /v1/turns/{id}` only: what the turn waits on a person for. */
    approvals: z.array(approvalSchema).optional().describe('The approvals the turn waits on (pending); `GET /v1/turns/{id}` only.'),
  })
  .meta({ id: 'Turn' });

/** The `turn.completed` payload: the JSON answer of a synchronous message. */
export const turnCompletedSchema = z
  .object({
    type: z.literal('turn.completed'),
    tenant: z.string(),
    key: z.string(),
    turnId: z.string(),
    sessionId: z.string(),
    agentSessionId: z.string().nullable(),
    text: z.string(),
    usage: usageSchema,
    context: contextSchema,
    durationMs: z.number(),
    at: z.string(),
  })
  .meta({ id: 'TurnCompleted' });

export const acceptedTurnSchema = z
  .object({ turnId: z.string(), sessionId: z.string(), seq: z.number().int(), status: z.literal('queued') })
  .meta({ id: 'AcceptedTurn' });

/** `PATCH /v1/sessions/{key}`: the next turns' model and permission mode, labels, metadata. */
export const sessionUpdateBodySchema = sessionUpdateSchema.meta({ id: 'SessionUpdate' });

export const forkBodySchema = z
  .object({ newKey: z.string().min(1).max(256), atTurn: z.number().int().min(1).optional(), replace: z.boolean().optional() })
  .strict()
  .meta({ id: 'Fork' });

/** `POST /v1/sessions/import`: a bundle as `GET …/export` wrote it, and where to put it. */
export const importBodySchema = z
  .object({ bundle: z.unknown(), key: z.string().min(1).max(256).optional(), replace: z.boolean().optional(), cwd: z.string().min(1).max(4096).optional() })
  .strict()
  .meta({ id: 'Import' });

/** The bundle's shape is checked by the broker (bundle.ts); here it is documented loosely. */
export const bundleResponseSchema = z
  .looseObject({ format: z.literal('tether.session'), version: z.number().int(), exportedAt: z.string(), session: z.looseObject({}), turns: z.array(z.looseObject({})), transcript: z.looseObject({}) })
  .meta({ id: 'SessionBundle' });

export const compactResponseSchema = z
  .object({ turnId: z.string(), sessionId: z.string(), preTokens: z.number().int(), postTokens: z.number().int(), context: contextSchema })
  .meta({ id: 'Compaction' });

export const interruptResponseSchema = z.object({ interrupted: z.boolean(), turnId: z.string().nullable() }).meta({ id: 'Interrupt' });

export const wakeResponseSchema = z
  .object({
    status: z
      .enum(['woken', 'awake', 'busy', 'new', 'cold'])
      .describe(
        'woken: the process was started now; awake: a warm one was there already; busy: a turn runs or is queued; ' +
          'new: no agent conversation yet (its first turn starts it); cold: the backend starts its process only with a turn (Codex).',
      ),
    pid: z.number().int().nullable().describe("The session's agent process on this node, when one runs."),
  })
  .meta({ id: 'Wake' });

export const sleepResponseSchema = z
  .object({ slept: z.boolean().describe('True when an idle agent process of the session was ended; false when none ran here, or it runs a turn.') })
  .meta({ id: 'Sleep' });

export const sessionsResponseSchema = z.object({ sessions: z.array(sessionSchema) });
export const turnsResponseSchema = z.object({ turns: z.array(turnSchema) });

export type SendMessageBody = z.infer<typeof sendMessageBodySchema>;
export type SessionOptionsBody = z.infer<typeof sessionOptionsSchema>;

/** `GET /v1/stats`: counts of the caller's tenant. */
export const statsResponseSchema = z
  .object({
    tenant: z.string().nullable(),
    sessions: z.object({
      live: z.number().int(),
      byStatus: z.record(z.enum(SESSION_STATUSES), z.number().int()),
      created: z.number().int(),
      expired: z.number().int(),
      evicted: z.number().int(),
      reset: z.number().int(),
    }),
    turns: z.record(z.enum(TURN_STATUSES), z.number().int()),
    usage: usageSchema,
    runningHere: z.number().int(),
    runners: z
      .object({ live: z.number().int(), busy: z.number().int(), idle: z.number().int(), spares: z.number().int(), waiting: z.number().int(), maxLive: z.number().int() })
      .optional(),
    usageLimit: z.object({ until: z.string(), reason: z.string(), backend: z.enum(['claude', 'codex']) }).optional(),
    turnTime: z.object({ totalMs: z.number(), turns: z.number().int() }),
    averageTurnMs: z.number().nullable(),
    errorRate: z.number().nullable(),
  })
  .meta({ id: 'Stats' });

/** `GET /readyz`: whether this node can take turns; no error text (it may name paths). */
export const readinessResponseSchema = z
  .object({
    status: z.enum(['ready', 'unavailable']),
    store: z.object({ ok: z.boolean(), kind: z.string() }),
    agent: z.object({ ok: z.boolean() }),
    /** Present (true) while the node shuts down: it finishes its running turns and takes no new requests. */
    draining: z.boolean().optional(),
  })
  .meta({ id: 'Readiness' });

export const healthResponseSchema = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });

export const usageQuerySchema = z
  .object({
    since: z.iso.datetime({ offset: true }).optional().describe('Start of the window (ISO time); default: 24 buckets before `until`.'),
    until: z.iso.datetime({ offset: true }).optional().describe('End of the window (ISO time, excluded); default: now.'),
    bucket: z.enum(['minute', 'hour', 'day']).optional().describe('Size of a bucket; default hour.'),
    by: z
      .string()
      .regex(/^(none|model|backend|label:[A-Za-z0-9][A-Za-z0-9._/-]{0,63})$/, 'none, model, backend or label:NAME')
      .optional()
      .describe('Split by model, agent or the value of a label (`label:user`); default none.'),
  })
  .strict();

const usageBucketSchema = z
  .object({
    at: z.string().describe('Start of the bucket (ISO time).'),
    group: z.string(),
    turns: z.number().int(),
    failed: z.number().int().describe('Of those, the ones that failed or were interrupted.'),
    inputTokens: z.number(),
    outputTokens: z.number(),
    cacheReadTokens: z.number(),
    cacheWriteTokens: z.number(),
    costUsd: z.number(),
    latencyMs: z.object({ p50: z.number(), p90: z.number(), p99: z.number() }).describe('From accepted to ended, queueing included.'),
  })
  .meta({ id: 'UsageBucket' });

export const usageResponseSchema = z
  .object({
    since: z.string(),
    until: z.string(),
    bucketMs: z.number().int(),
    by: z.string(),
    groups: z.array(z.string()).describe('The groups seen, most turns first.'),
    buckets: z.array(usageBucketSchema).describe('Buckets with turns only, by time, then group.'),
    truncated: z.boolean().describe('The window held more than 50,000 turns: the latest were counted.'),
  })
  .meta({ id: 'UsageSeries' });
