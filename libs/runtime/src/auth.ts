/**
 * API keys on HTTP routes (docs/security.md): every route declares the scope it needs with `@Scoped('read')`
 * (or `@Public()` for health checks and the dashboard's static page), on the handler or its controller. The
 * global ApiKeyGuard answers 401 without a key or with an unknown one, 403 without the scope, and refuses a
 * route that declares nothing when keys are configured, so a new route cannot be open by oversight.
 */
import { CanActivate, ExecutionContext, ForbiddenException, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiKeyRing, SCOPE_METADATA, type Scope } from '@tidemark/auth';
import { Problem, rpcProblem } from './problem';
import { ProblemException } from './problem.filter';

export const Scoped = (scope: Scope) => SetMetadata(SCOPE_METADATA, scope);
export const Public = () => SetMetadata(SCOPE_METADATA, 'public');

@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly ring: ApiKeyRing,
  ) {}

  canActivate(ctx: ExecutionContext): boolean {
    if (ctx.getType() !== 'http') return true; // JetStream batches and NATS requests authorise themselves
    const scope = this.reflector.getAllAndOverride<Scope | 'public' | undefined>(SCOPE_METADATA, [ctx.getHandler(), ctx.getClass()]);
    if (scope === 'public' || !this.ring.enabled) return true;
    if (scope === undefined) throw new ForbiddenException('this route declares no scope');
    const req = ctx.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
    const d = this.ring.authorizeHeader(req.headers.authorization, scope);
    if (d.ok) return true;
    if (d.status === 401) {
      ctx.switchToHttp().getResponse<{ header(name: string, value: string): unknown }>().header('WWW-Authenticate', 'Bearer realm="tidemark"');
    }
    throw new ProblemException(d.status, d.reason);
  }
}

/**
 * NATS request-reply with API keys: the request carries the header `Authorization: Bearer <key>`. Returns the
 * reply to send instead of answering (a 401 or 403 problem, as HTTP answers), or undefined when the request may go on.
 */
export function rpcDenied(ring: ApiKeyRing, headers: { get(name: string): string } | undefined, scope: Scope): Problem | undefined {
  if (!ring.enabled) return undefined;
  const d = ring.authorizeHeader(headers?.get('Authorization') || undefined, scope);
  return d.ok ? undefined : rpcProblem(d.status, d.reason);
}
