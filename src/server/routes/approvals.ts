import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { approvalToJSON } from '../../domain/json.js';
import { ErrorCode, TetherError } from '../../errors.js';
import { approvalDecisionBodySchema, approvalSchema, approvalsResponseSchema, listApprovalsQuerySchema, noQuerySchema } from '../schemas.js';
import type { ZodTypeProvider } from '../type-provider.js';
import type { RouteContext } from './context.js';
import { errors, json } from './docs.js';

/** Approval ids are UUIDs; anything much longer is not one and need not reach the store. */
const MAX_APPROVAL_ID = 128;

const approvalIdParams = z.object({ id: z.string().describe('The approval id (`id` of its `approval.requested` event).') });

/** `/v1/approvals`: list, read and decide what agents ask people. Another tenant's approval is a 404. */
export function registerApprovalRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const known = (id: string): string => {
    if (id.length === 0 || id.length > MAX_APPROVAL_ID) throw new TetherError(ErrorCode.NOT_FOUND, `no approval ${id.slice(0, MAX_APPROVAL_ID)}`);
    return id;
  };

  routes.get(
    '/v1/approvals',
    {
      schema: {
        operationId: 'listApprovals',
        summary: "The tenant's approvals, oldest first (e.g. ?status=pending&key=…)",
        tags: ['approvals'],
        querystring: listApprovalsQuerySchema,
        response: { 200: json('The approvals.', approvalsResponseSchema), ...errors(400) },
      },
    },
    async (request) => {
      const list = await ctx.tether.approvals({ ...request.query, tenant: request.tenant });
      return { approvals: list.map(approvalToJSON) };
    },
  );

  routes.get(
    '/v1/approvals/:id',
    {
      schema: {
        operationId: 'getApproval',
        summary: 'One approval',
        tags: ['approvals'],
        params: approvalIdParams,
        querystring: noQuerySchema,
        response: { 200: json('The approval.', approvalSchema), ...errors(400, 404) },
      },
    },
    async (request) => {
      const approval = await ctx.tether.approval(known(request.params.id), { tenant: request.tenant });
      if (!approval) throw new TetherError(ErrorCode.NOT_FOUND, `no approval ${request.params.id}`);
      return approvalToJSON(approval);
    },
  );

  routes.post(
    '/v1/approvals/:id',
    {
      schema: {
        operationId: 'decideApproval',
        summary: 'Decide a pending approval: allow (optionally remembered for the session) or deny, with a message',
        tags: ['approvals'],
        params: approvalIdParams,
        querystring: noQuerySchema,
        body: approvalDecisionBodySchema,
        response: { 200: json('The decided approval; the turn waiting on it goes on.', approvalSchema), ...errors(400, 404, 409) },
      },
    },
    async (request) => approvalToJSON(await ctx.tether.decide(known(request.params.id), request.body, { tenant: request.tenant })),
  );
}
